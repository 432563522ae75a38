"""The worker embedded in a process (as ``demo`` does): readiness without partitions, liveness, stop."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import consume, make_topics, produce, seed_messages
from worker.app import Worker
from worker.run import start_health
from worker.config import load_config
from worker.metrics import Metrics

pytestmark = pytest.mark.slow


def worker_config(topics, **overrides):
    """A worker config on ``topics`` with a quick group join, no metrics server, plus ``overrides``
    (dotted keys with "__" for ".": batch__max_wait_ms=0)."""
    return load_config(None, env={}, overrides={
        "kafka.bootstrap_servers": topics.bootstrap, "kafka.input_topic": topics.input,
        "kafka.output_topic": topics.output, "kafka.dead_letter_topic": topics.dlq, "kafka.group_id": topics.group,
        "kafka.session_timeout_ms": 3000, "kafka.heartbeat_interval_ms": 1000, "metrics.enabled": False,
        **{k.replace("__", "."): v for k, v in overrides.items()}})


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_ready_before_any_partition_is_assigned_and_stops_cleanly(broker, classifier):
    topics = make_topics(broker.bootstrap_servers)
    cfg = load_config(None, env={}, overrides={
        "kafka.bootstrap_servers": topics.bootstrap, "kafka.input_topic": topics.input,
        "kafka.output_topic": topics.output, "kafka.dead_letter_topic": topics.dlq,
        "kafka.group_id": topics.group, "metrics.host": "127.0.0.1", "metrics.port": 0,
        # a slow group join (about session_timeout / 2 on Tansu) leaves a window without partitions
        "kafka.session_timeout_ms": 20000, "kafka.heartbeat_interval_ms": 1000})
    metrics = Metrics()
    worker = Worker(cfg, metrics)
    server = start_health(cfg, metrics, worker)
    base = f"http://127.0.0.1:{server.port}"
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(worker.run()), daemon=True)
    try:
        assert status(base + "/readyz") == 503  # no model yet
        assert status(base + "/startupz") == 503
        assert status(base + "/healthz") == 200
        worker.set_classifier(classifier)
        assert status(base + "/startupz") == 200  # the model is loaded: started, broker or not
        thread.start()
        deadline = time.monotonic() + 8
        while status(base + "/readyz") != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status(base + "/readyz") == 200
        assert not worker.tracker.owned()  # ready does not wait for partitions
        assert metrics.registry.get_sample_value("tension_worker_ready") == 1
    finally:
        worker.request_stop()
        thread.join(30)
    assert result == [0]
    assert status(base + "/readyz") == 503  # closed: no longer connected
    server.stop()


def test_liveness_fails_when_the_loop_stalls(classifier):
    cfg = load_config(None, env={}, overrides={"metrics.host": "127.0.0.1", "metrics.port": 0,
                                               "metrics.liveness_timeout_s": 0.2})
    metrics = Metrics()
    worker = Worker(cfg, metrics, classifier)
    server = start_health(cfg, metrics, worker)
    try:
        time.sleep(0.4)  # the loop never ran
        assert status(f"http://127.0.0.1:{server.port}/healthz") == 503
    finally:
        server.stop()


class FailsOn:
    """The real classifier, made to raise for one article id (fault injection)."""

    def __init__(self, real, bad_id: str):
        self.real, self.bad_id = real, bad_id
        self.name, self.version = real.name, real.version

    def classify(self, articles):
        if any(a.id == self.bad_id for a in articles):
            raise RuntimeError("injected failure")
        return self.real.classify(articles)


def test_classifier_error_is_dead_lettered_and_the_batch_goes_on(broker, classifier, seeds):
    topics = make_topics(broker.bootstrap_servers)
    cfg = worker_config(topics, batch__max_wait_ms=1000)
    bad, good = "006_noalert_tech_earnings", "002_alert_border_artillery"
    produce(topics.bootstrap, topics.input, seed_messages(seeds, [bad, good]))
    metrics = Metrics()
    worker = Worker(cfg, metrics, FailsOn(classifier, seeds[bad]["id"]))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        dead = consume(topics.bootstrap, topics.dlq, 1, timeout_s=60)
        assert len(dead) == 1 and dict(dead[0].headers)["dlq.reason"] == b"classifier_error"
        assert dead[0].key == seeds[bad]["id"].encode()
        alerts = consume(topics.bootstrap, topics.output, 1, timeout_s=60)
        assert [r.key for r in alerts] == [seeds[good]["id"].encode()]
        assert metrics.registry.get_sample_value("tension_worker_dead_letters_total",
                                                 {"reason": "classifier_error"}) == 1
    finally:
        worker.request_stop()
        thread.join(30)


def test_a_record_too_large_to_dead_letter_does_not_stop_the_partition(broker, classifier, seeds):
    """Issue #10 item 3: a 1.1 MB record is rejected; its dead letter is over the producer's 1 MiB limit
    (a permanent error), so a truncated dead letter goes instead and the next article is processed."""
    from kafka import KafkaProducer

    from worker.seeds import encode

    topics = make_topics(broker.bootstrap_servers, partitions=1)
    cfg = worker_config(topics, batch__max_wait_ms=200)
    good = "002_alert_border_artillery"
    huge = encode({"id": "huge", "text": "word " * 220_000})
    producer = KafkaProducer(bootstrap_servers=topics.bootstrap, acks="all", max_request_size=4 << 20)
    producer.send(topics.input, key=b"huge", value=huge).get(timeout=30)
    producer.close()
    produce(topics.bootstrap, topics.input, seed_messages(seeds, [good]))
    worker = Worker(cfg, Metrics(), classifier)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        alerts = consume(topics.bootstrap, topics.output, 1, timeout_s=90)
        assert [r.key for r in alerts] == [seeds[good]["id"].encode()]
        dead = consume(topics.bootstrap, topics.dlq, 1, timeout_s=30)
        h = dict(dead[0].headers)
        assert len(dead) == 1 and dead[0].value is None and h["dlq.reason"] == b"oversized_text"
        assert f"({len(huge) + 4} bytes)".encode() in h["dlq.truncated"] and b"MessageSizeTooLarge" in h["dlq.truncated"]
    finally:
        worker.request_stop()
        thread.join(30)


class Hangs:
    """The real classifier's name and version, but classify() blocks until released (a stuck batch)."""

    def __init__(self, real):
        self.name, self.version, self.release = real.name, real.version, threading.Event()

    def classify(self, articles):
        self.release.wait(30)
        raise RuntimeError("released")


def test_liveness_fails_while_one_batch_runs_past_its_bound(broker, classifier, seeds):
    topics = make_topics(broker.bootstrap_servers)
    cfg = worker_config(topics, batch__max_wait_ms=0, batch__max_seconds=1.0)
    produce(topics.bootstrap, topics.input, seed_messages(seeds, ["002_alert_border_artillery"]))
    hangs = Hangs(classifier)
    worker = Worker(cfg, Metrics(), hangs)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while worker.live()[0] and time.monotonic() < deadline:
            time.sleep(0.1)
        ok, why = worker.live()
        assert not ok and "batch.max_seconds" in why  # the loop still iterates: only the batch is stuck
        hangs.release.set()
        deadline = time.monotonic() + 30
        while not worker.live()[0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker.live()[0]  # the batch ended (dead-lettered as classifier_error): alive again
    finally:
        hangs.release.set()
        worker.request_stop()
        thread.join(30)
