"""Articles per second and publish→alert latency through a real broker, each worker in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import yaml

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from worker.broker import free_port, stop_process
from worker.seeds import encode

REPO = Path(__file__).resolve().parent.parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Topics:
    def __init__(self, bootstrap: str, tag: str):
        run = uuid.uuid4().hex[:8]
        self.bootstrap = bootstrap
        self.input, self.output, self.dlq, self.group = (f"bench-{tag}-{run}-{n}" for n in ("in", "out", "dlq", "g"))
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.create_topics([NewTopic(t, 1, 1) for t in (self.input, self.output, self.dlq)])
        finally:
            admin.close()


class Outputs(threading.Thread):
    """Records when each output message (by key or ``id``) arrived."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
        self.consumer.assign([TopicPartition(topic, 0)])
        self.consumer.seek_to_beginning()
        self.arrived: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for r in records:
                    key = r.key.decode() if r.key else json.loads(r.value).get("id")
                    self.arrived.setdefault(key, now)
        self.consumer.close()


def publish(producer: KafkaProducer, topic: str, articles: list[dict], count: int, prefix: str,
            rate: float | None = None) -> dict[str, float]:
    """Send ``count`` articles (cycled, unique ids) at ``rate`` per second (None: at once); id → send time."""
    sent, start = {}, time.perf_counter()
    for k in range(count):
        if rate:
            time.sleep(max(0.0, start + k / rate - time.perf_counter()))
        article = {**articles[k % len(articles)], "id": f"{prefix}-{k:05d}"}
        sent[article["id"]] = time.perf_counter()
        producer.send(topic, key=article["id"].encode(), value=encode(article))
    producer.flush()
    return sent


def _processed(port: int) -> tuple[float, float]:
    """(articles processed, process CPU seconds) from the worker's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    done = cpu = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tension_worker_articles_processed_total":
                done += sample.value
            elif sample.name == "process_cpu_seconds_total":
                cpu = sample.value
    return done, cpu


def _wait(condition, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the worker exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done in {timeout:.0f} s")
        time.sleep(0.05)


def _ready(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200
    except OSError:
        return False


def measure_worker(bootstrap: str, articles: list[dict], count: int, latency_seconds: float, config: dict,
                   log_path: Path) -> dict:
    """``tension-worker run`` in a subprocess: its rate after the first batch, then p50/p95 publish→alert
    latency with articles arriving at half that rate."""
    topics, port = Topics(bootstrap, "ours"), free_port()
    config = {**config, "logging": {"level": "WARNING", "format": "text"},
              "metrics": {**config["metrics"], "enabled": True, "host": "127.0.0.1", "port": port},
              "kafka": {**config["kafka"], "bootstrap_servers": bootstrap, "input_topic": topics.input,
                        "output_topic": topics.output, "dead_letter_topic": topics.dlq, "group_id": topics.group,
                        "session_timeout_ms": 3000, "heartbeat_interval_ms": 1000}}
    config_path = log_path.with_suffix(".yaml")
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSION_WORKER__")}
    outputs = Outputs(bootstrap, topics.output)
    outputs.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker", "run", "--config", str(config_path)], cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        _wait(lambda: _ready(port), 300, "worker start", proc)
        publish(producer, topics.input, articles, count, "rate")
        _wait(lambda: _processed(port)[0] > 0, 300, "first batch", proc)
        (done0, cpu0), t0 = _processed(port), time.perf_counter()
        _wait(lambda: _processed(port)[0] >= count, 1800, "throughput run", proc)
        (done1, cpu1), t1 = _processed(port), time.perf_counter()
        rate = (done1 - done0) / (t1 - t0)
        sent = publish(producer, topics.input, articles, max(4, int(rate / 2 * latency_seconds)), "latency", rate / 2)
        _wait(lambda: _processed(port)[0] >= count + len(sent), 600, "latency run", proc)
        time.sleep(1.0)
        latencies = [outputs.arrived[k] - t for k, t in sent.items() if k in outputs.arrived]
        return {"articles_per_s": rate, "cpu_s_per_article": (cpu1 - cpu0) / max(1, done1 - done0),
                "latency_s": latencies, "latency_articles": len(sent)}
    finally:
        stop_process(proc, timeout=20)
        producer.close()
        outputs.stop.set()


def measure_naive_worker(bootstrap: str, articles: list[dict], count: int, log_path: Path) -> dict:
    """The naive worker in a subprocess: its rate after the first result (it publishes one per article)."""
    topics = Topics(bootstrap, "naive")
    outputs = Outputs(bootstrap, topics.output)
    outputs.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker.benchmark.naive", bootstrap, topics.input,
                                 topics.output, topics.group], cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", "the naive worker did not start"
        publish(producer, topics.input, articles, count, "naive")
        _wait(lambda: len(outputs.arrived) > 0, 300, "naive first result", proc)
        n0, t0, cpu0 = len(outputs.arrived), time.perf_counter(), cpu_seconds(proc.pid)
        _wait(lambda: len(outputs.arrived) >= count, 3600, "naive run", proc)
        n1, t1, cpu1 = len(outputs.arrived), time.perf_counter(), cpu_seconds(proc.pid)
        return {"articles_per_s": (n1 - n0) / (t1 - t0), "cpu_s_per_article": (cpu1 - cpu0) / max(1, n1 - n0)}
    finally:
        stop_process(proc, timeout=10)
        producer.close()
        outputs.stop.set()
