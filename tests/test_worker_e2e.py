"""One ``tension-worker run`` subprocess against the embedded broker: alerts, dead letters, metrics,
health endpoints, and a clean SIGTERM with committed offsets (tests run in file order)."""

from __future__ import annotations

import json
import signal
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from jsonschema import Draft202012Validator, FormatChecker

from conftest import (SEED_ARTICLE, WorkerProcess, committed_offsets, consume, end_offsets, make_topics,
                      produce, seed_messages)
from worker.models.article import load_schema

pytestmark = pytest.mark.slow

MAX_TEXT = 20_000  # small limit so an oversized article is cheap to build
SECRET = "do-not-log-me-4711"


@pytest.fixture(scope="module")
def env(broker, tmp_path_factory):
    topics = make_topics(broker.bootstrap_servers)
    worker = WorkerProcess(topics, tmp_path_factory.mktemp("e2e"), config={"input": {"max_text_chars": MAX_TEXT},
                                                                           "logging": {"format": "json"}},
                           env={"TENSION_WORKER__KAFKA__SASL_PASSWORD": SECRET})
    worker.wait_ready()
    yield topics, worker
    if worker.proc.poll() is None:
        worker.proc.kill()
        worker.proc.wait()


def confluent_read(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list:
    """Read with an independent client (librdkafka), not the one the worker uses."""
    import time
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out, deadline = [], time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append(msg)
    finally:
        c.close()
    return out


def test_seed_article_gives_one_valid_alert(env, seeds):
    topics, worker = env
    produce(topics.bootstrap, topics.input, seed_messages(seeds, [SEED_ARTICLE]))
    msgs = confluent_read(topics.bootstrap, topics.output, 1)
    assert len(msgs) == 1, worker.log()
    worker.wait_processed(1)
    assert len(consume(topics.bootstrap, topics.output, 1, settle_s=1.0)) == 1  # exactly one
    msg = msgs[0]
    assert msg.key() == seeds[SEED_ARTICLE]["id"].encode()
    result = json.loads(msg.value().decode("utf-8"))
    Draft202012Validator(load_schema("alert.schema.json"), format_checker=FormatChecker()).validate(result)
    assert result["alert"] is True and result["article"]["id"] == seeds[SEED_ARTICLE]["id"]
    # MOBILIZE is missed by this model: a strict xfail in test_classifier.py tracks it (issue #8)
    assert "THREATEN" in {s["type"] for s in result["signals"]}
    assert dict(msg.headers())["alert_id"].decode() == result["alert_id"]


BAD = [  # (key, value, expected reason)
    (b"k-json", b'{"id": "x1", "text": ', "invalid_json"),
    (b"k-types", b'{"id": 42, "text": "Troops massed on the border."}', "invalid_schema"),
    (b"k-missing", b'{"id": "x3", "title": "no text"}', "missing_text"),
    (b"k-empty", b'{"id": "x4", "text": "   "}', "empty_text"),
    (b"k-utf8", b'{"id": "x5", "text": "caf\xe9"}', "invalid_utf8"),
    (b"k-big", json.dumps({"id": "x6", "text": "word " * (MAX_TEXT // 4)}).encode(), "oversized_text"),
    (b"k-null", None, "empty_message"),
]


def test_bad_messages_go_to_dlq_with_original_bytes(env, seeds):
    topics, worker = env
    before = worker.processed()
    headers = [("trace-id", b"abc123")]
    produce(topics.bootstrap, topics.input, [(k, v, headers) for k, v, _ in BAD])
    good = "002_alert_border_artillery"
    produce(topics.bootstrap, topics.input, seed_messages(seeds, [good]))  # after the bad ones
    dead = consume(topics.bootstrap, topics.dlq, len(BAD))
    assert len(dead) == len(BAD), worker.log()
    by_key = {r.key: r for r in dead}
    for key, value, reason in BAD:
        r = by_key[key]
        h = dict(r.headers)
        assert r.value == value
        assert h["dlq.reason"].decode() == reason
        assert h["trace-id"] == b"abc123"  # original headers kept
        assert h["dlq.source.topic"].decode() == topics.input
        assert int(h["dlq.source.partition"]) in range(3) and int(h["dlq.source.offset"]) >= 0
        assert "dlq.detail" in h
    worker.wait_processed(before + len(BAD) + 1)  # the good article after them was processed too
    ids = lambda records: {json.loads(r.value)["article"]["id"] for r in records}  # noqa: E731
    alerts = consume(topics.bootstrap, topics.output, 0, until=lambda records: seeds[good]["id"] in ids(records))
    assert seeds[good]["id"] in ids(alerts)
    assert worker.proc.poll() is None


def test_logs_are_json_with_a_line_per_batch(env):
    _, worker = env
    lines = [json.loads(line) for line in worker.log(tail=None).splitlines()
             if line.startswith("{")]
    batches = [rec for rec in lines if rec["message"].startswith("batch of")]
    assert batches and all(rec["level"] == "INFO" and "records" in rec and "dead_letters" in rec for rec in batches)
    assert sum(rec["dead_letters"] for rec in batches) == len(BAD)


def test_metrics_counters_moved(env):
    topics, worker = env
    m = worker.metrics()
    get = lambda name, **labels: m.get((name, tuple(sorted(labels.items()))), 0.0)  # noqa: E731
    assert get("tension_worker_records_consumed_total", topic=topics.input) >= len(BAD) + 1
    assert get("tension_worker_articles_processed_total", outcome="dead_letter") == len(BAD)
    for _, _, reason in BAD:
        assert get("tension_worker_dead_letters_total", reason=reason) == 1
    assert sum(v for (n, _), v in m.items() if n == "tension_worker_alerts_total") >= 1
    assert sum(v for (n, _), v in m.items() if n == "tension_worker_signals_total") >= 1
    assert get("tension_worker_batch_inference_seconds_count") >= 1
    assert get("tension_worker_end_to_end_latency_seconds_count") >= len(BAD) + 1
    assert get("tension_worker_batch_size_count") >= 1
    assert get("tension_worker_ready") == 1
    assert get("tension_worker_assigned_partitions") == 3
    assert get("tension_worker_last_loop_timestamp_seconds") > 0
    assert get("tension_worker_last_success_timestamp_seconds") > 0
    info = [labels for (n, labels), _ in m.items() if n == "tension_worker_model_info"]
    assert info and dict(info[0])["name"] and dict(info[0])["version"]
    lags = {dict(labels)["partition"]: v for (n, labels), v in m.items() if n == "tension_worker_consumer_lag"}
    assert lags and all(v == 0 for v in lags.values()), lags


def test_health_endpoints(env):
    _, worker = env
    assert worker.get("/healthz")[0] == 200
    status, body = worker.get("/readyz")
    assert status == 200 and "model loaded" in body
    assert worker.get("/nope")[0] == 404


def test_sigterm_finishes_the_batch_in_flight_exits_0_and_commits(env, seeds):
    topics, worker = env
    consumed = worker.value("tension_worker_records_consumed_total", topic=topics.input)
    names = ["006_noalert_tech_earnings", "007_noalert_truce_talks", "003_alert_sanctions_expulsions"]
    produce(topics.bootstrap, topics.input, seed_messages(seeds, names))
    deadline = time.monotonic() + 30
    while worker.value("tension_worker_records_consumed_total", topic=topics.input) < consumed + len(names):
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.02)
    started = time.monotonic()
    assert worker.stop(signal.SIGTERM) == 0, worker.log()  # as soon as they are consumed, before results
    assert time.monotonic() - started < 30
    assert "Traceback" not in worker.log(tail=None)
    assert SECRET not in worker.log(tail=None)  # a secret from the environment is never logged
    ends = end_offsets(topics.bootstrap, topics.input)
    assert committed_offsets(topics.bootstrap, topics.group) == {tp: off for tp, off in ends.items() if off}
    alerts = consume(topics.bootstrap, topics.output, 0, until=lambda rs: any(
        json.loads(r.value)["article"]["id"] == seeds[names[-1]]["id"] for r in rs), timeout_s=10)
    assert any(json.loads(r.value)["article"]["id"] == seeds[names[-1]]["id"] for r in alerts)
