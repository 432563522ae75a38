"""deploy/k8s: kustomize builds, core manifests validated offline against the Kubernetes schemas (strict), and
the KEDA / prometheus-operator resources checked for the fields they need and for agreement with the rest."""

from __future__ import annotations

import shutil

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy_support import (DEPLOY, INPUT_PARTITIONS, K8S, K8S_VERSIONS, RULES, kustomize_build, load_json, load_yaml,
                            rule_groups)
from worker.config import load_config
from worker.kafka.inflight import inflight_topic

KUSTOMIZATIONS = ["base", "keda", "monitoring", "topics", "overlays/production", "overlays/secured"]
CRDS = DEPLOY / "schemas" / "crds"
CRD_SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): "keda.sh/scaledobject_v1alpha1.json",
               ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh/triggerauthentication_v1alpha1.json",
               ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
               ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
               ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafka.strimzi.io/kafkatopic_v1beta2.json"}
CORE_KINDS = {"ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy"}


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict]]:
    return {k: kustomize_build(K8S / k) for k in KUSTOMIZATIONS}


def _one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{kind}: {len(found)} found"
    return found[0]


def _container(deploy: dict) -> dict:
    return deploy["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_resources_exist(name):
    kdir = K8S / name
    kust = load_yaml(kdir / "kustomization.yaml")
    for res in kust.get("resources", []):
        assert (kdir / res).exists(), f"{name}: {res}"
    for gen in kust.get("configMapGenerator", []):
        for f in gen.get("files", []):
            assert (kdir / f.split("=")[-1]).exists(), f"{name}: {f}"
    listed = {r for r in kust.get("resources", []) if r.endswith(".yaml")}
    listed |= {p["path"] for p in kust.get("patches", []) if "path" in p}
    on_disk = {p.name for p in kdir.glob("*.yaml")} - {"kustomization.yaml", "worker.yaml"}
    assert on_disk <= listed, f"{name}: manifests not listed in kustomization.yaml: {on_disk - listed}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_manifests_validate_strictly_against_kubernetes_schemas(built, version):
    docs = built["overlays/production"]
    core = [d for d in docs if d["kind"] in CORE_KINDS]
    assert {d["kind"] for d in core} == CORE_KINDS
    for doc in core:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_rejects_a_typo(built):
    deploy = yaml.safe_load(yaml.safe_dump(_one(built["base"], "Deployment")))
    _container(deploy)["livenessProbe"]["httpGett"] = _container(deploy)["livenessProbe"].pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deploy, K8S_VERSIONS[0], strict=True)


def test_deployment_probes_and_shutdown(built):
    deploy = _one(built["base"], "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    c = _container(deploy)
    port_names = {p["name"]: p["containerPort"] for p in c["ports"]}
    cfg = load_config(K8S / "base" / "worker.yaml", env={})
    assert port_names["metrics"] == cfg.metrics.port
    startup, live, ready = c["startupProbe"], c["livenessProbe"], c["readinessProbe"]
    # startup waits for the model only: a broker outage while pods start must not crash-loop them
    assert startup["httpGet"]["path"] == "/startupz" and ready["httpGet"]["path"] == "/readyz"
    assert live["httpGet"]["path"] == "/healthz"
    for probe in (startup, live, ready):
        assert probe["httpGet"]["port"] in ("metrics", cfg.metrics.port)
    budget = startup.get("initialDelaySeconds", 0) + startup["periodSeconds"] * startup["failureThreshold"]
    assert budget >= 120, f"startup probe allows only {budget} s for a ~60 s model load"
    # Liveness must not kill a worker whose loop is merely busy with one batch.
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    assert pod["terminationGracePeriodSeconds"] >= 60


def test_deployment_security_and_resources(built):
    deploy = _one(built["base"], "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    c = _container(deploy)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]
    res = c["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res[kind])
    assert pod["serviceAccountName"] == _one(built["base"], "ServiceAccount")["metadata"]["name"]


def test_deployment_config_and_env(built, tmp_path):
    docs = built["base"]
    deploy, cm = _one(docs, "Deployment"), _one(docs, "ConfigMap")
    pod = deploy["spec"]["template"]["spec"]
    c = _container(deploy)
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/etc/tension-worker")
    assert volumes[mount["name"]]["configMap"]["name"] == cm["metadata"]["name"]  # hashed name, rewritten
    assert c["args"] == ["run", "--config", "/etc/tension-worker/worker.yaml"]
    assert "worker.yaml" in cm["data"]
    env = _env(c)
    bootstrap = env["TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS"]["value"]
    tmp = tmp_path / "worker.yaml"
    tmp.write_text(cm["data"]["worker.yaml"])
    plain = {k: e["value"] for k, e in env.items() if "value" in e}
    cfg = load_config(tmp, env=plain)
    assert cfg.kafka.bootstrap_servers == bootstrap
    for name in ("TENSION_WORKER__MODEL__NUM_THREADS", "OMP_NUM_THREADS"):  # threads follow the CPU limit
        ref = env[name]["valueFrom"]["resourceFieldRef"]
        assert ref["resource"] == "limits.cpu" and ref["containerName"] == c["name"] and ref["divisor"] == "1"
    assert cfg.model.num_threads == 0  # without the env (outside Kubernetes): the cgroup quota
    assert env["TOKENIZERS_PARALLELISM"]["value"] == "false"


def test_service_and_pdb_select_the_pods(built):
    docs = built["base"]
    deploy, svc, pdb = _one(docs, "Deployment"), _one(docs, "Service"), _one(docs, "PodDisruptionBudget")
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert deploy["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert "replicas" not in deploy["spec"]  # KEDA owns it; a value here would reset it at every apply
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"  # drains work during a broker outage
    port = next(p for p in svc["spec"]["ports"] if p["name"] == "metrics")
    assert port["port"] == 9108 and port["targetPort"] in ("metrics", 9108)


def test_keda_scaled_object(built):
    so = _one(built["keda"], "ScaledObject")
    deploy = _one(built["base"], "Deployment")
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    spec = so["spec"]
    assert spec["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"] <= INPUT_PARTITIONS
    triggers = [t for t in spec["triggers"] if t["type"] == "kafka"]
    assert len(triggers) == 1
    meta = triggers[0]["metadata"]
    cfg = load_config(K8S / "base" / "worker.yaml", env={})
    assert meta["topic"] == cfg.kafka.input_topic == "articles"
    assert meta["consumerGroup"] == cfg.kafka.group_id == "tension-worker"
    assert "bootstrapServers" not in meta  # one place for the brokers: KEDA reads the Deployment's env
    assert meta["bootstrapServersFromEnv"] in _env(_container(deploy))
    assert isinstance(meta["lagThreshold"], str) and int(meta["lagThreshold"]) > 0  # KEDA metadata is strings
    assert all(isinstance(v, str) for v in meta.values())


def test_service_monitor_matches_the_service(built):
    sm = _one(built["monitoring"], "ServiceMonitor")
    svc = _one(built["base"], "Service")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    port_names = {p["name"] for p in svc["spec"]["ports"]}
    for ep in sm["spec"]["endpoints"]:
        assert ep["port"] in port_names
        assert ep.get("path", "/metrics") == "/metrics"
    # The alert rules select job="tension-worker": the job label comes from jobLabel (or the Service name).
    job_label = sm["spec"].get("jobLabel")
    job = svc["metadata"]["labels"][job_label] if job_label else svc["metadata"]["name"]
    assert job == "tension-worker"


def test_prometheus_rule_carries_the_rules_file(built):
    pr = _one(built["monitoring"], "PrometheusRule")
    assert pr["apiVersion"] == "monitoring.coreos.com/v1"
    assert pr["spec"]["groups"] == rule_groups(RULES)


def test_production_overlay_has_everything_in_one_namespace(built):
    docs = built["overlays/production"]
    kinds = {d["kind"] for d in docs}
    assert CORE_KINDS | {"Namespace", "ScaledObject", "ServiceMonitor", "PrometheusRule"} == kinds
    ns = _one(docs, "Namespace")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {ns["metadata"]["name"]}
    labels = ns["metadata"]["labels"]  # the pod spec meets Pod Security "restricted", so enforce it
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    kubernetes_validate.validate(ns, K8S_VERSIONS[0], strict=True)
    deploy = _one(docs, "Deployment")
    assert ":" in _container(deploy)["image"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_custom_resources_validate_against_their_published_crd_schemas(built, name):
    custom = [d for d in built[name] if d["apiVersion"].split("/")[0] in {g.split("/")[0] for g, _ in CRD_SCHEMAS}]
    for doc in custom:
        schema = load_json(CRDS / CRD_SCHEMAS[(doc["apiVersion"], doc["kind"])])
        jsonschema.Draft7Validator(schema).validate(doc)


def test_crd_validation_rejects_a_typo(built):
    so = yaml.safe_load(yaml.safe_dump(_one(built["keda"], "ScaledObject")))
    so["spec"]["maxReplicaCuont"] = so["spec"].pop("maxReplicaCount")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(load_json(CRDS / CRD_SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")])).validate(so)


def test_secured_overlay_wires_sasl_tls_for_the_worker_and_for_keda(built, tmp_path):
    docs = built["overlays/secured"]
    deploy, so, auth = _one(docs, "Deployment"), _one(docs, "ScaledObject"), _one(docs, "TriggerAuthentication")
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(deploy, version, strict=True)
    pod, c = deploy["spec"]["template"]["spec"], _container(deploy)
    env = _env(c)
    password = env["TENSION_WORKER__KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env["TENSION_WORKER__KAFKA__SASL_PASSWORD"]  # never in the manifest
    ca_file = env["TENSION_WORKER__KAFKA__SSL_CAFILE"]["value"]
    mount = next(m for m in c["volumeMounts"] if ca_file.startswith(m["mountPath"] + "/"))
    ca_secret = next(v for v in pod["volumes"] if v["name"] == mount["name"])["secret"]["secretName"]
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and "worker.yaml" in d["data"])
    (tmp_path / "worker.yaml").write_text(cm["data"]["worker.yaml"])
    plain = {k: e["value"] for k, e in env.items() if "value" in e}
    cfg = load_config(tmp_path / "worker.yaml", env={**plain, "TENSION_WORKER__KAFKA__SASL_USERNAME": "u",
                                                     "TENSION_WORKER__KAFKA__SASL_PASSWORD": "p"})
    assert (cfg.kafka.security_protocol, cfg.kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    trigger = so["spec"]["triggers"][0]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs["password"] == (password["name"], password["key"]) and refs["ca"][0] == ca_secret
    assert refs["ca"][1] == ca_file.rsplit("/", 1)[1]


def test_topics_match_the_worker_config_and_cap_the_autoscaler(built):
    topics = {d["metadata"]["name"]: d for d in built["topics"] if d["kind"] == "KafkaTopic"}
    cfg = load_config(K8S / "base" / "worker.yaml", env={})
    inflight = inflight_topic(cfg.kafka)
    assert set(topics) == {cfg.kafka.input_topic, cfg.kafka.output_topic, cfg.kafka.dead_letter_topic, inflight}
    so = _one(built["keda"], "ScaledObject")
    assert topics[cfg.kafka.input_topic]["spec"]["partitions"] == so["spec"]["maxReplicaCount"] == INPUT_PARTITIONS
    assert topics[inflight]["spec"]["partitions"] == INPUT_PARTITIONS  # one in-flight partition per input partition


def test_monitoring_resources_carry_the_release_label_kube_prometheus_stack_selects(built):
    labels = load_yaml(K8S / "monitoring" / "kustomization.yaml")["labels"][0]["pairs"]
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert _one(built["monitoring"], kind)["metadata"]["labels"]["release"] == labels["release"]
    assert "release" not in _one(built["base"], "Service")["metadata"]["labels"]  # only where it is a selector


def test_runbook_base_url_is_one_knob_that_reaches_every_alert(built, tmp_path):
    default = load_yaml(K8S / "monitoring" / "runbook-base.yaml")["data"]["url"]
    alerts = lambda docs: [r for g in _one(docs, "PrometheusRule")["spec"]["groups"]  # noqa: E731
                           for r in g["rules"] if "alert" in r]
    assert {r["annotations"]["runbook_url"] for r in alerts(built["monitoring"])} == {
        f"{default}/README.md#alerts-and-what-to-do"}
    assert not [d for d in built["monitoring"] if d["metadata"]["name"] == "tension-worker-runbook-base"]
    copy = tmp_path / "monitoring"
    shutil.copytree(K8S / "monitoring", copy)
    base = copy / "runbook-base.yaml"
    base.write_text(base.read_text().replace(default, "https://git.acme.test/sre/tension-worker/-/blob/v1"))
    assert {r["annotations"]["runbook_url"] for r in alerts(kustomize_build(copy))} == {
        "https://git.acme.test/sre/tension-worker/-/blob/v1/README.md#alerts-and-what-to-do"}


def test_network_policy_lets_in_prometheus_and_out_kafka_and_dns_only(built):
    docs = built["overlays/production"]
    policy, deploy = _one(docs, "NetworkPolicy"), _one(docs, "Deployment")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= deploy["spec"]["template"]["metadata"][
        "labels"].items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == ["metrics"]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (9092, "TCP")} <= egress_ports
    bootstrap = _env(_container(deploy))["TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS"]["value"]
    assert int(bootstrap.rsplit(":", 1)[1]) in {port for port, _ in egress_ports}


def test_workers_spread_over_nodes(built):
    deploy = _one(built["base"], "Deployment")
    spread = deploy["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}
    for c in spread:
        assert c["labelSelector"]["matchLabels"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()


def test_dashboard_config_map_is_the_dashboard_for_grafanas_sidecar(built):
    cm = next(d for d in built["monitoring"] if d["kind"] == "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["data"]["tension-worker.json"] == (DEPLOY / "grafana" / "dashboards" / "tension-worker.json").read_text()
