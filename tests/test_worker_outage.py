"""A broker outage is retried, never dead-lettered; after a restart (Tansu forgets everything, which
breaks the idempotent producer) the worker recreates its clients and carries on."""

from __future__ import annotations

import signal
import time

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import Topics, consume, load_alerts, produce, seed_messages
from worker.broker import EmbeddedBroker

pytestmark = pytest.mark.slow


def create(topics: Topics) -> None:
    admin = KafkaAdminClient(bootstrap_servers=topics.bootstrap)
    try:
        admin.create_topics([NewTopic(topics.input, 3, 1), NewTopic(topics.output, 1, 1), NewTopic(topics.dlq, 1, 1)])
    finally:
        admin.close()


def test_worker_survives_a_broker_restart(tmp_path, start_worker, seeds):
    first = EmbeddedBroker(log_path=str(tmp_path / "tansu.log")).start()
    topics = Topics(first.bootstrap_servers, "articles", "tension-alerts", "articles-dlq", "outage-group")
    create(topics)
    worker = start_worker(topics, config={"kafka": {"retry_backoff_max_s": 2, "request_timeout_ms": 5000}})
    try:
        worker.wait_ready()
        before = "003_alert_sanctions_expulsions"  # an alert, so the producer exists before the outage
        produce(topics.bootstrap, topics.input, seed_messages(seeds, [before]))
        assert len(consume(topics.bootstrap, topics.output, 1)) == 1, worker.log()

        first.stop()  # outage: everything in memory is gone
        deadline = time.monotonic() + 30  # down after 6 s of trouble, seen by a check every 5 s
        while worker.get("/readyz")[0] != 503:  # not ready while the broker is away ...
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.2)
        assert worker.get("/healthz")[0] == 200  # ... but alive: it waits for the broker
        second = EmbeddedBroker(port=first.port, log_path=str(tmp_path / "tansu2.log")).start()
        create(topics)
        try:
            good = "002_alert_border_artillery"
            produce(topics.bootstrap, topics.input, seed_messages(seeds, [good]))
            alerts = load_alerts(consume(topics.bootstrap, topics.output, 1, timeout_s=90))
            assert alerts and {a["article"]["id"] for a in alerts} == {seeds[good]["id"]}, worker.log()
            assert len({a["alert_id"] for a in alerts}) == 1  # a redelivery may repeat it, same id
            assert worker.value("tension_worker_broker_errors_total", operation="produce") >= 1  # retried
            assert consume(topics.bootstrap, topics.dlq, 0) == []
            assert worker.value("tension_worker_dead_letters_total", reason="classifier_error") == 0
            assert worker.proc.poll() is None
            assert worker.stop(signal.SIGTERM) == 0, worker.log()
        finally:
            second.stop()
    finally:
        first.stop()
