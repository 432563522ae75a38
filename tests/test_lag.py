"""Committed offsets for the lag gauge are fetched off the poll thread, against the real broker."""

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Gauge

from worker.config import KafkaConfig
from worker.kafka.consumer import PartitionTracker
from worker.kafka.lag import CommittedOffsets, LagGauge
from worker.kafka.settings import client_settings


def _eventually(value, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = value()
        if got is not None:
            return got
        time.sleep(0.1)
    raise AssertionError("not fetched in time")


def test_committed_offsets_come_from_a_background_fetch_and_never_block(topics):
    producer = KafkaProducer(bootstrap_servers=topics.bootstrap)
    for n in range(5):
        producer.send(topics.input, b"{}", partition=0)
    producer.flush()
    p0, p1 = TopicPartition(topics.input, 0), TopicPartition(topics.input, 1)
    committer = KafkaConsumer(bootstrap_servers=topics.bootstrap, group_id=topics.group, enable_auto_commit=False)
    committer.commit({p0: OffsetAndMetadata(3, "", -1)})
    committer.close()
    fetched = CommittedOffsets(client_settings(KafkaConfig(bootstrap_servers=topics.bootstrap)), topics.group,
                               interval_s=0.2)
    try:
        started = time.monotonic()
        assert fetched.get(p0) is None and fetched.get(p1) is None  # asked for: the caller does not wait
        assert time.monotonic() - started < 0.1
        assert _eventually(lambda: fetched.get(p0)) == 3
        assert _eventually(lambda: fetched.get(p1)) == 0  # never committed: from its earliest offset

        consumer = KafkaConsumer(bootstrap_servers=topics.bootstrap, enable_auto_commit=False)
        consumer.assign([p0])
        consumer.seek_to_beginning(p0)
        deadline = time.monotonic() + 20
        while _highwater(consumer, p0) != 5 and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)  # a fetch response carries the highwater mark
        tracker = PartitionTracker()
        tracker.on_partitions_assigned([p0])
        gauge = Gauge("lag", "lag", ["topic", "partition"], registry=CollectorRegistry())
        lag = LagGauge(tracker, gauge, fetched)
        lag.update(consumer)
        assert gauge.labels(topics.input, "0")._value.get() == 2  # 5 - 3, from the fetched commit
        lag.remember({p0: 5}, {p0: 0})  # this worker's own commit (epoch 0: never revoked) wins
        lag.update(consumer)
        assert gauge.labels(topics.input, "0")._value.get() == 0
        consumer.close()
    finally:
        fetched.close()


def _highwater(consumer, tp):
    try:
        return consumer.highwater(tp)
    except KeyError:
        return None
