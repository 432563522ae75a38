"""When a micro-batch starts: ``batch.max_wait_ms`` counts from the oldest record's Kafka timestamp."""

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from worker.kafka.consumer import OwnedBuffer, PartitionTracker


def record(offset: int, timestamp_ms: int | None) -> ConsumerRecord:
    return ConsumerRecord("articles", 0, 0, offset, timestamp_ms, 0, None, b"{}", [], None, 0, 2, 0)


@pytest.fixture
def buffer():
    tracker = PartitionTracker()
    tracker.on_partitions_assigned([TopicPartition("articles", 0)])
    return OwnedBuffer(tracker)


def test_a_fresh_record_waits_the_full_max_wait(buffer):
    buffer.add([record(0, 1_000_000)], {})
    assert buffer.deadline(500, now=10.0, wall=1_000.0) == pytest.approx(10.5)


def test_a_record_that_waited_behind_a_batch_waits_only_the_rest(buffer):
    buffer.add([record(0, 1_000_000), record(1, 1_000_300)], {})  # the oldest is 400 ms old
    assert buffer.deadline(500, now=10.0, wall=1_000.4) == pytest.approx(10.1)
    assert buffer.deadline(500, now=10.0, wall=1_002.0) == pytest.approx(10.0)  # overdue: start now


def test_clocks_ahead_or_missing_timestamps_never_wait_longer_than_max_wait(buffer):
    buffer.add([record(0, 2_000_000), record(1, None), record(2, -1)], {})  # a producer clock 1,000 s ahead
    assert buffer.deadline(500, now=10.0, wall=1_000.0) == pytest.approx(10.5)
