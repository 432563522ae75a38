"""The worker loop against a scripted consumer and producer (``worker.kafka.clients``' protocol), with the
real classifier: revocation of a partition while its batch is in flight and its re-assignment, a permanent
produce error, commits refused during a rebalance. Each scenario is the consumer's story told poll by poll,
so the timing a real broker makes hard to hit is exact here; the embedded-broker tests cover the rest."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import MessageSizeTooLargeError, RebalanceInProgressError

from worker.app import Worker
from worker.config import load_config
from worker.kafka.clients import KafkaClients
from worker.kafka.inflight import Entry
from worker.metrics import Metrics
from worker.seeds import encode

pytestmark = pytest.mark.slow  # the real model

TOPIC = "in"
P0 = TopicPartition(TOPIC, 0)


class ScriptedConsumer:
    """One input partition. ``events[n]`` runs before the n-th poll (1-based): e.g. a rebalance."""

    def __init__(self, values: list[bytes], events: dict | None = None, refuse_commits: int = 0):
        self.log = [ConsumerRecord(topic=TOPIC, partition=0, leader_epoch=0, offset=i, timestamp=-1,
                                   timestamp_type=0, key=None, value=v, headers=[], checksum=None,
                                   serialized_key_size=-1, serialized_value_size=-1, serialized_header_size=-1)
                    for i, v in enumerate(values)]
        self.events, self.refuse_commits = events or {}, refuse_commits
        self.listener, self.assigned, self._paused = None, set(), set()
        self.position, self.committed, self.commits, self.polls = 0, 0, [], 0
        self.lock = threading.Lock()

    # the rebalance story
    def revoke(self):
        self.assigned.clear()
        self.listener.on_partitions_revoked({P0})

    def assign(self):
        self.assigned, self.position = {P0}, self.committed  # a partition comes back at its committed offset
        self.listener.on_partitions_assigned({P0})

    # the protocol
    def subscribe(self, topics, listener):
        self.listener = listener

    def poll(self, timeout_ms, max_records):
        with self.lock:
            self.polls += 1
            if self.polls == 1:
                self.assign()
            self.events.get(self.polls, lambda c: None)(self)
            if P0 not in self.assigned or P0 in self._paused:
                time.sleep(timeout_ms / 1000)
                return {}
            batch = self.log[self.position:self.position + max_records]
            self.position += len(batch)
            return {P0: batch} if batch else {}

    def commit(self, offsets, timeout_ms):
        with self.lock:
            if self.refuse_commits:
                self.refuse_commits -= 1
                raise RebalanceInProgressError("scripted")
            self.commits.append({tp: om.offset for tp, om in offsets.items()})
            self.committed = max(self.committed, offsets[P0].offset)

    def assignment(self):
        return set(self.assigned)

    def pause(self, *tps):
        self._paused |= set(tps)

    def resume(self, *tps):
        self._paused -= set(tps)

    def paused(self):
        return set(self._paused)

    def highwater(self, tp):
        return len(self.log)

    def topics(self):
        return {TOPIC, "alerts", "dlq"}

    def partitions_for_topic(self, topic):
        return {0}

    def metrics(self):
        return {"consumer-metrics": {"connection-count": 1.0}}

    def close(self, autocommit=False):
        pass


class ScriptedProducer:
    """Acknowledges every send, except those ``refuse(topic)`` answers with an error for."""

    def __init__(self, refuse=lambda topic: None):
        self.refuse, self.sent = refuse, []

    def send(self, topic, key=None, value=None, headers=None):
        error = self.refuse(topic)
        if error is None:
            self.sent.append((topic, key, value, dict(headers or [])))
        future = Future()
        future.set_exception(error) if error else future.set_result(None)
        return _Ack(future)

    def close(self, timeout=None):
        pass


class _Ack:
    def __init__(self, future):
        self.future, self.is_done = future, True

    def get(self, timeout=None):
        return self.future.result(timeout)


class MemoryInflight:
    def __init__(self, cfg=None):
        self.entries = {}

    def ensure_topic(self, partitions):
        pass

    def last(self, partition):
        return self.entries.get(partition)

    def write(self, entries):
        self.entries.update(entries)

    def close(self):
        pass


def run_worker(consumer, producer, classifier, until, timeout_s=60):
    cfg = load_config(None, env={}, overrides={"kafka.input_topic": TOPIC, "kafka.output_topic": "alerts",
                                               "kafka.dead_letter_topic": "dlq", "batch.max_records": 8,
                                               "batch.max_wait_ms": 0, "metrics.enabled": False})
    inflight = MemoryInflight()
    clients = KafkaClients(consumer=lambda cfg, n: consumer, producer=lambda cfg: producer,
                           inflight=lambda cfg: inflight, committed=lambda cfg: None)
    worker = Worker(cfg, Metrics(), classifier, clients=clients)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not until() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.request_stop()
    thread.join(30)
    assert not thread.is_alive()
    return worker, inflight


@pytest.fixture(scope="module")
def alerting(seeds, seed_results):
    return [encode(seeds[name]) for name, r in sorted(seed_results.items()) if r["alert"]][:6]


def _alerts(producer):
    return [json.loads(v) for t, _, v, _ in producer.sent if t == "alerts"]


def test_a_partition_revoked_and_reassigned_mid_batch_is_processed_again_and_committed_once(classifier, alerting):
    # poll 1: assigned, 6 records, the batch starts; poll 2 (the batch in flight): revoked, then assigned again
    consumer = ScriptedConsumer(alerting, events={2: lambda c: (c.revoke(), c.assign())})
    producer = ScriptedProducer()
    worker, inflight = run_worker(consumer, producer, classifier, until=lambda: consumer.committed == 6)
    assert consumer.commits == [{P0: 6}]  # the in-flight batch's commit was skipped: it was revoked
    alerts = _alerts(producer)
    assert len(alerts) == 12  # every record twice: once before the revocation, once after
    ids = {}
    for a in alerts:
        ids.setdefault(a["article"]["id"], set()).add(a["alert_id"])
    assert len(ids) == 6 and all(len(v) == 1 for v in ids.values())  # duplicates share their alert_id
    # the revoked batch was released, so taking the partition back counted no crash: one batch, not isolated
    assert inflight.entries[0] == Entry(0, 5)


def test_a_permanent_produce_error_dead_letters_the_alert_and_the_partition_moves_on(classifier, alerting):
    consumer = ScriptedConsumer(alerting[:3])
    producer = ScriptedProducer(refuse=lambda topic: MessageSizeTooLargeError("scripted") if topic == "alerts" else None)
    run_worker(consumer, producer, classifier, until=lambda: consumer.committed == 3)
    assert consumer.commits == [{P0: 3}] and _alerts(producer) == []
    dead = [h for t, _, _, h in producer.sent if t == "dlq"]
    assert len(dead) == 3 and {h["dlq.reason"] for h in dead} == {b"unpublishable_alert"}
    assert all(b"MessageSizeTooLargeError" in h["dlq.detail"] for h in dead)


def test_a_commit_refused_in_a_rebalance_is_retried_while_the_partition_stays(classifier, alerting):
    consumer = ScriptedConsumer(alerting[:2], refuse_commits=2)  # the batch's commit and the first retry fail
    producer = ScriptedProducer()
    run_worker(consumer, producer, classifier, until=lambda: consumer.committed == 2, timeout_s=30)
    assert consumer.committed == 2 and consumer.commits == [{P0: 2}]  # by housekeeping, no new record needed
    assert len(_alerts(producer)) == 2  # processed once: nothing redelivered


def test_a_batch_whose_commit_failed_before_its_partition_moved_is_redelivered_without_counting_a_crash(
        classifier, alerting):
    # the batch's commit is refused; before housekeeping retries it, the partition moves and
    # comes back: its records are redelivered from the committed offset, as a plain batch, not one at a time
    consumer = ScriptedConsumer(alerting[:4], refuse_commits=1)
    producer = ScriptedProducer()
    state = {}

    def move_once(c):
        if c.commits == [] and c.refuse_commits == 0 and not state:
            state["moved"] = True
            c.revoke()
            c.assign()

    consumer.events = _every_poll(move_once)
    _, inflight = run_worker(consumer, producer, classifier, until=lambda: consumer.committed == 4)
    assert state and consumer.commits == [{P0: 4}] and len(_alerts(producer)) == 8  # redelivered once
    assert inflight.entries[0] == Entry(0, 3)  # processed again as one batch: no crash was counted


class _every_poll(dict):
    """``events`` that run ``fn`` before every poll."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def get(self, key, default=None):
        return self.fn
