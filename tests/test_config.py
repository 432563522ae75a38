"""Config loading: YAML, environment overrides, explicit overrides, one-line errors (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "config" / "worker.yaml"


def test_default_file_has_the_documented_defaults():
    cfg = load_config(DEFAULT, env={})
    assert (cfg.kafka.input_topic, cfg.kafka.output_topic, cfg.kafka.dead_letter_topic) == \
        ("articles", "tension-alerts", "articles-dlq")
    assert cfg.kafka.group_id == "tension-worker" and cfg.metrics.port == 9108
    assert (cfg.kafka.session_timeout_ms, cfg.kafka.heartbeat_interval_ms) == (6000, 2000)
    assert cfg == load_config(None, env={})  # the file spells out the built-in defaults


@pytest.mark.parametrize("path", sorted((REPO / "config" / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_are_valid(path):
    load_config(path, env={})


def test_env_overrides_nested_keys_with_yaml_scalars():
    env = {"TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS": "kafka:9092", "tension_worker__batch__max_records": "8",
           "TENSION_WORKER__METRICS__ENABLED": "false", "OTHER": "x"}
    cfg = load_config(DEFAULT, env=env)
    assert cfg.kafka.bootstrap_servers == "kafka:9092"
    assert cfg.batch.max_records == 8 and cfg.metrics.enabled is False


def test_explicit_override_beats_env():
    cfg = load_config(DEFAULT, env={"TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS": "env:1"},
                      overrides={"kafka.bootstrap_servers": "flag:2"})
    assert cfg.kafka.bootstrap_servers == "flag:2"


@pytest.mark.parametrize("text, message", [
    ("kafka:\n  bootstrap_server: x\n", "kafka.bootstrap_server: unknown key"),
    ("batch:\n  max_records: many\n", "batch.max_records"),
    ("metrics:\n  port: 70000\n", "metrics.port"),
    ("kafka: [1, 2\n", "is not valid YAML"),
    ("- a\n- b\n", "must hold a mapping"),
])
def test_bad_files_give_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_file_and_bad_env():
    with pytest.raises(ConfigError, match="cannot read"):
        load_config("/nonexistent/worker.yaml", env={})
    with pytest.raises(ConfigError, match="batch.max_wait_ms"):
        load_config(DEFAULT, env={"TENSION_WORKER__BATCH__MAX_WAIT_MS": "soon"})


def test_secrets_can_come_from_mounted_files(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cr3t\n")
    cfg = load_config(None, env={"TENSION_WORKER__KAFKA__SASL_PASSWORD_FILE": str(secret),
                                 "TENSION_WORKER__KAFKA__SASL_USERNAME": "worker"})
    assert (cfg.kafka.sasl_username, cfg.kafka.sasl_password) == ("worker", "s3cr3t")
    with pytest.raises(ConfigError) as err:
        load_config(None, env={"TENSION_WORKER__KAFKA__SASL_PASSWORD_FILE": str(tmp_path / "missing")})
    assert "sasl_password_file" in str(err.value) and "\n" not in str(err.value)
    assert "s3cr3t" not in repr(cfg)  # never printed with the config
