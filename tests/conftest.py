"""Shared fixtures: one embedded Tansu broker per session, unique topics per test, the real classifier
(loaded once), and ``tension-worker run`` subprocesses with temp configs on free ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from worker.broker import EmbeddedBroker, free_port
from worker.seeds import DEFAULT_SEEDS, encode, load_seeds

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, stdin: str | None = None, env: dict | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """``tension-worker ARGS`` in a subprocess from the repo root, without the caller's TENSION_WORKER__ env."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TENSION_WORKER__")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "worker", *args], input=stdin, cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
SEED_ARTICLE = "000_92090ce90e0505e5"  # the seed article: must alert with THREATEN and MOBILIZE


# --- broker and topics ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_path=str(log)) as b:
        yield b


@dataclass
class Topics:
    bootstrap: str
    input: str
    output: str
    dlq: str
    group: str

    def env(self) -> dict[str, str]:
        """Environment overrides that point a worker at these topics (exercises the env naming)."""
        return {"TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
                "TENSION_WORKER__KAFKA__INPUT_TOPIC": self.input,
                "TENSION_WORKER__KAFKA__OUTPUT_TOPIC": self.output,
                "TENSION_WORKER__KAFKA__DEAD_LETTER_TOPIC": self.dlq,
                "TENSION_WORKER__KAFKA__GROUP_ID": self.group}


def make_topics(bootstrap: str, partitions: int = 3) -> Topics:
    tag = uuid.uuid4().hex[:8]
    topics = Topics(bootstrap, f"articles-{tag}", f"alerts-{tag}", f"dlq-{tag}", f"group-{tag}")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topics.input, partitions, 1), NewTopic(topics.output, 1, 1),
                             NewTopic(topics.dlq, 1, 1)])
    finally:
        admin.close()
    return topics


@pytest.fixture
def topics(broker) -> Topics:
    return make_topics(broker.bootstrap_servers)


def produce(bootstrap: str, topic: str, messages) -> None:
    """messages: iterable of (key, value[, headers]) with bytes/None; waits for every ack."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [producer.send(topic, key=m[0], value=m[1], headers=(m[2] if len(m) > 2 else None))
                   for m in messages]
        for f in futures:
            f.get(timeout=10)
    finally:
        producer.close()


def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 60, settle_s: float = 0.0, until=None):
    """Records of ``topic`` from the start until ``expected`` arrived (then ``settle_s`` more), or until
    ``until(records)`` is true, or timeout."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=500)
    records, deadline, settle_until = [], time.monotonic() + timeout_s, None
    try:
        while time.monotonic() < deadline:
            for r in consumer:
                records.append(r)
            if until is not None and until(records):
                break
            if until is None and len(records) >= expected:
                settle_until = settle_until or time.monotonic() + settle_s
                if time.monotonic() >= settle_until:
                    break
    finally:
        consumer.close()
    return records


def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {tp: om.offset for tp, om in admin.list_group_offsets(group).get(group, {}).items()}
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str, first_wait_s: float = 5.0, quiet_s: float = 1.0) -> dict[TopicPartition, int]:
    """High watermarks read by consuming (end_offsets() is unreliable on Tansu after batched produces): from
    the beginning of every partition until no record came for ``quiet_s`` (``first_wait_s`` for the first,
    so a slow first fetch on a busy machine does not read as an empty topic)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        last = {tp: 0 for tp in tps}
        until = time.monotonic() + first_wait_s
        while time.monotonic() < until:
            for tp, records in consumer.poll(timeout_ms=200).items():
                last[tp] = records[-1].offset + 1
                until = time.monotonic() + quiet_s
        return last
    finally:
        consumer.close()


# --- seeds and the real classifier ---------------------------------------------------------------
@pytest.fixture(scope="session")
def seeds() -> dict[str, dict]:
    """Sample articles by file stem, read from seeds/ (never built in the tests)."""
    return dict(load_seeds(DEFAULT_SEEDS))


def seed_messages(seeds: dict[str, dict], names) -> list[tuple[bytes, bytes]]:
    return [(seeds[n]["id"].encode(), encode(seeds[n])) for n in names]


@pytest.fixture(scope="session")
def classifier():
    from worker.classifier.pipeline import load_classifier
    return load_classifier()


@pytest.fixture(scope="session")
def seed_results(classifier, seeds) -> dict[str, dict]:
    """Each seed classified alone in-process (the worker's code path): the expected decisions of a worker
    running with ``batch.max_records: 1``."""
    from worker.processing import Processor
    processor = Processor(classifier, 200_000)
    return {name: processor.process([encode(a)])[0].result for name, a in seeds.items()}


# --- worker subprocesses ---------------------------------------------------------------------------
class WorkerProcess:
    """``python -m worker run`` with a temp config; stdout/stderr go to a log file."""

    def __init__(self, topics: Topics, tmp: Path, config: dict | None = None, env: dict | None = None,
                 name: str = "worker", command: list[str] | None = None):
        self.port = free_port()
        cfg = {"kafka": {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000},
               "batch": {"max_records": 8, "max_wait_ms": 200},
               "metrics": {"host": "127.0.0.1", "port": self.port, "liveness_timeout_s": 30}}
        for section, values in (config or {}).items():
            cfg.setdefault(section, {}).update(values)
        self.config_path = tmp / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
        self.config_path.write_text(yaml.safe_dump(cfg))
        self.log_path = self.config_path.with_suffix(".log")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TENSION_WORKER__")}
        full_env.update(topics.env())
        full_env.update(env or {})
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([*(command or [sys.executable, "-m", "worker"]), "run", "--config",
                                      str(self.config_path)],
                                     cwd=REPO, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready within {timeout_s} s:\n{self.log()}")

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """{(sample name, sorted label items): value} from /metrics."""
        status, text = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    def value(self, name: str, **labels) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def processed(self) -> int:
        return int(sum(self.value("tension_worker_articles_processed_total", outcome=o)
                       for o in ("alert", "no_alert", "dead_letter")))

    def wait_processed(self, n: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if self.processed() >= n:
                return
            time.sleep(0.2)
        raise AssertionError(f"worker processed {self.processed()} < {n} within {timeout_s} s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def log(self, tail: int | None = 6000) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return text[-tail:] if tail else text


@pytest.fixture
def start_worker(tmp_path):
    """Factory: start_worker(topics, config=None, env=None) -> WorkerProcess; all are killed at teardown."""
    started: list[WorkerProcess] = []

    def start(topics: Topics, config: dict | None = None, env: dict | None = None, name: str = "worker",
              command: list[str] | None = None):
        w = WorkerProcess(topics, tmp_path, config, env, name, command)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def load_alerts(records) -> list[dict]:
    return [json.loads(r.value) for r in records]
