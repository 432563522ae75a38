"""Poison pills: a record that kills the process is dead-lettered after it crashed it twice processed
alone, and the partition moves on. The decisions (``plan``) alone, then the real worker dying natively on a record
against the embedded broker, restarted as Kubernetes would restart it."""

import json
import sys
import time

import pytest

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from conftest import REPO, committed_offsets, consume, produce, seed_messages
from worker.kafka.inflight import CrashGuard, Entry, Plan, plan
from worker.processing import Outcome


def test_a_batch_that_was_finished_or_released_plans_nothing():
    assert plan(None, 0) == Plan()
    assert plan(Entry(0, 9), 10) == Plan()  # the batch 0..9 was committed: resuming after it
    assert plan(Entry(0, 9, released=True), 0) == Plan()  # given up at shutdown or in a rebalance


def test_a_death_on_a_batch_isolates_its_records_and_a_second_death_on_one_record_alone_makes_it_a_poison_pill():
    assert plan(Entry(0, 9), 0) == Plan(isolate_until=9)  # died while the batch 0..9 was in flight
    assert plan(Entry(0, 9, at=4), 0) == Plan(isolate_until=9, suspect=4, suspect_hits=1)  # died on 4 alone
    assert plan(Entry(0, 9, at=4, hits=1), 0) == Plan(isolate_until=9, poison=4)  # ... twice
    assert Plan(isolate_until=9, suspect=4, suspect_hits=1).hits(4) == 1 and Plan(suspect=4).hits(5) == 0
    # records before it were processed alone without dying; after a commit the range goes on one at a time
    assert plan(Entry(0, 9, at=6), 5) == Plan(isolate_until=9)
    assert plan(Entry(0, 9, at=9), 10) == Plan()  # past the range: batches again
    assert Entry.decode(Entry(3, 7, at=5, hits=1).encode()) == Entry(3, 7, at=5, hits=1)
    assert Entry.decode(b"not json") is None and Entry.decode(None) is None


class MemoryLog:
    """The in-flight topic's contract, in memory: the last entry written per partition."""

    def __init__(self):
        self.entries: dict[int, Entry] = {}

    def last(self, partition):
        return self.entries.get(partition)

    def write(self, entries):
        self.entries.update(entries)


class Died(BaseException):
    """Stands for the process dying: nothing after it runs, only the log survives."""


def _records(n, partition=0):
    return [ConsumerRecord(topic="in", partition=partition, leader_epoch=0, offset=off, timestamp=0, timestamp_type=0,
                           key=None, value=f"article {off}".encode(), headers=[], checksum=None,
                           serialized_key_size=-1, serialized_value_size=-1, serialized_header_size=-1)
            for off in range(n)]


def _processor(calls, dies_on=None):
    def process(values, timestamps):
        calls.append(list(values))
        if dies_on is not None and dies_on in values:
            raise Died()
        return [Outcome(v.decode(), result={"ok": True}) for v in values]
    return process


def test_the_guard_narrows_a_crash_down_to_its_record_and_dead_letters_it_after_two_deaths_alone():
    log, batch, calls = MemoryLog(), _records(5), []
    with pytest.raises(Died):  # first start: the whole batch dies
        CrashGuard(log).process(batch, {}, _processor(calls, dies_on=b"article 2"))
    assert calls == [[r.value for r in batch]] and log.last(0) == Entry(0, 4)
    for hits in (0, 1):  # then one at a time, announced, so each death names its record
        calls.clear()
        with pytest.raises(Died):
            CrashGuard(log).process(batch, {}, _processor(calls, dies_on=b"article 2"))
        assert calls == [[b"article 0"], [b"article 1"], [b"article 2"]] and log.last(0) == Entry(0, 4, 2, hits)
    calls.clear()
    outcomes = CrashGuard(log).process(batch, {}, _processor(calls, dies_on=b"article 2"))  # fourth start
    assert [o.reason for o in outcomes] == [None, None, "poison_pill", None, None]
    assert b"article 2" not in [v for call in calls for v in call]
    assert [o.article_id for o in outcomes if o.ok] == ["article 0", "article 1", "article 3", "article 4"]
    assert log.last(0) == Entry(0, 4, 4, 0)  # the records after it were announced as innocent


def test_a_batch_given_up_cleanly_is_not_counted_as_a_crash():
    log, batch, calls = MemoryLog(), _records(3), []
    guard = CrashGuard(log)
    guard.process(batch, {}, _processor(calls))
    guard.release_partitions({TopicPartition("in", 0): 0})  # e.g. revoked before its commit
    calls.clear()
    CrashGuard(log).process(batch, {}, _processor(calls))
    assert calls == [[r.value for r in batch]]  # one batch again, nothing isolated


@pytest.mark.slow
def test_a_record_that_crashes_the_process_is_dead_lettered_and_the_partition_moves_on(
        broker, topics, start_worker, seeds, tmp_path):
    names = sorted(seeds)[:6]
    poison = dict(seeds[names[2]], id="poison-1", text=seeds[names[2]]["text"] + "\nCRASH-NOW")
    messages = seed_messages(seeds, names[:2]) + [(b"p", json.dumps(poison).encode())] + seed_messages(seeds, names[2:])
    produce(topics.bootstrap, topics.input, [(b"same-key", value) for _, value in messages])  # one partition
    command = [sys.executable, str(REPO / "tests" / "crashing_worker.py")]
    env = {"CRASH_MARKER": "CRASH-NOW"}
    deaths = 0
    for _ in range(5):  # a supervisor: restart it whenever it dies
        w = start_worker(topics, config={"batch": {"max_records": 8, "max_wait_ms": 500}}, env=env, command=command)
        deadline = time.monotonic() + 90
        while w.proc.poll() is None and time.monotonic() < deadline:
            dlq = consume(topics.bootstrap, topics.dlq, 1, timeout_s=1)
            if dlq:
                break
        if w.proc.poll() is None:
            break
        deaths += 1
        assert w.proc.returncode != 0, w.log()
    assert deaths == 3, f"{deaths} deaths:\n{w.log()}"  # the batch, then the record alone twice
    dlq = consume(topics.bootstrap, topics.dlq, 1, timeout_s=10, settle_s=2)
    assert len(dlq) == 1, [dict(r.headers) for r in dlq]
    headers = dict(dlq[0].headers)
    assert headers["dlq.reason"] == b"poison_pill" and json.loads(dlq[0].value)["id"] == "poison-1"
    assert b"died twice" in headers["dlq.detail"]
    # every other record is processed: the partition's committed offset passes the poison pill to the end
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and max(committed_offsets(topics.bootstrap, topics.group).values(),
                                              default=0) < len(messages):
        time.sleep(0.5)
    assert max(committed_offsets(topics.bootstrap, topics.group).values()) == len(messages)
    assert w.processed() == len(messages)  # this last start: the pill plus the five others
    assert w.value("tension_worker_dead_letters_total", reason="poison_pill") == 1
    assert w.stop() == 0
