"""deploy/compose.yaml against the Compose specification's JSON Schema, plus the wiring between services.

The schema in deploy/schemas/compose-spec.json is the current Compose Specification schema
(github.com/compose-spec/compose-spec, commit 170098b, Apache-2.0), vendored unchanged (see deploy/schemas/README.md).
"""

from __future__ import annotations

import copy
import hashlib
import re

import jsonschema
import pytest

from deploy_support import (COMPOSE, COMPOSE_SCHEMA, CONTAINER_CONFIG, DEPLOY, DOCKERFILE, GRAFANA_PROVIDER,
                            INPUT_PARTITIONS, PROM_CONFIG, ROOT, load_json, load_yaml)
from worker.config import load_config

SCHEMA_SHA256 = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e"


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = load_json(COMPOSE_SCHEMA)
    assert "draft-07" in schema["$schema"]
    # No format checker: the schema's "duration" means Go durations ("5s"), not ISO 8601.
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_vendored_schema_is_the_upstream_file():
    assert hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_is_valid_against_the_compose_spec(validator, compose):
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_is_strict_enough_to_catch_mistakes(validator, compose):
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["depends_on"]["kafka"]["condition"] = "service_ready"
    assert list(validator.iter_errors(broken))
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["healthcheck"]["intervall"] = "5s"
    assert list(validator.iter_errors(broken))


def test_kafka_is_apache_kafka_in_kraft_mode_pinned(compose):
    kafka = compose["services"]["kafka"]
    image = kafka["image"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", image), image
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert "healthcheck" in kafka
    for service in compose["services"].values():
        assert "bitnami" not in service.get("image", "")


def test_topic_init_creates_the_worker_topics(compose):
    init = compose["services"]["kafka-init"]
    assert init["image"] == compose["services"]["kafka"]["image"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    topics = dict((name, int(parts)) for name, parts in re.findall(r"([a-z][a-z-]*):(\d+)", script))
    cfg = load_config(CONTAINER_CONFIG, env={})
    assert topics[cfg.kafka.input_topic] == INPUT_PARTITIONS
    assert cfg.kafka.output_topic in topics and cfg.kafka.dead_letter_topic in topics
    assert "--if-not-exists" in script


def test_worker_is_built_from_the_dockerfile_and_waits_for_kafka_and_topics(compose):
    worker = compose["services"]["worker"]
    build = worker["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert worker["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_worker_config_mount_and_bootstrap_env(compose):
    worker = compose["services"]["worker"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in worker["volumes"])
    target = "/etc/tension-worker/worker.yaml"
    assert (DEPLOY / next(h for h, c in mounts.items() if c == target)).resolve() == CONTAINER_CONFIG
    env = worker["environment"]
    kafka_env = compose["services"]["kafka"]["environment"]
    internal = next(l.split("://")[1] for l in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
                    if l.startswith("PLAINTEXT://"))
    assert env["TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS"] == internal
    cfg = load_config(CONTAINER_CONFIG, env={k: str(v) for k, v in env.items()})
    assert cfg.kafka.bootstrap_servers == internal
    assert f"127.0.0.1:{cfg.metrics.port}:{cfg.metrics.port}" in worker["ports"]
    for name, service in compose["services"].items():  # nothing is published on every host interface
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    assert "OMP_NUM_THREADS" in env and str(worker["cpus"]) in env["OMP_NUM_THREADS"]
    assert worker["read_only"] is True and "/tmp" in worker["tmpfs"]


def test_prometheus_scrapes_the_worker_and_loads_the_rules(compose):
    prom = compose["services"]["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prom["image"])
    mounts = dict(v.split(":")[:2] for v in prom["volumes"] if v.startswith("./"))
    assert (DEPLOY / next(h for h, c in mounts.items() if c == "/etc/prometheus/prometheus.yml")).resolve() == PROM_CONFIG
    assert (DEPLOY / next(h for h, c in mounts.items() if c == "/etc/prometheus/rules")).is_dir()
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    job = next(j for j in load_yaml(PROM_CONFIG)["scrape_configs"] if j["job_name"] == "tension-worker")
    port = load_config(CONTAINER_CONFIG, env={}).metrics.port
    assert job["static_configs"][0]["targets"] == [f"worker:{port}"]


def test_grafana_provisioning_paths_line_up(compose):
    grafana = compose["services"]["grafana"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    for host in mounts:
        assert (DEPLOY / host).exists(), host
    provider = load_yaml(GRAFANA_PROVIDER)["providers"][0]
    dashboards_host = next(h for h, c in mounts.items() if c == provider["options"]["path"])
    assert (DEPLOY / dashboards_host / "tension-worker.json").exists()
    assert any(c == "/etc/grafana/provisioning" for c in mounts.values())


def test_every_relative_host_path_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("."):
                assert (DEPLOY / host).exists(), f"{name}: {host}"
