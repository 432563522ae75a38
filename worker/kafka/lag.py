"""Consumer lag per assigned partition: highwater minus the group's committed offset.

``end_offsets()`` is not trusted (wrong after batched produces on some brokers), so lag is computed from
the consumer's highwater mark. Committed offsets are cached per partition and assignment epoch (see
``PartitionTracker``): a partition that was revoked and reassigned is read from the broker again.
"""

from __future__ import annotations

from kafka import TopicPartition

from worker.kafka.consumer import PartitionTracker


class LagGauge:
    """Keeps the ``consumer_lag`` gauge (labels topic, partition) in step with the assignment."""

    def __init__(self, tracker: PartitionTracker, gauge):
        self._tracker = tracker
        self._gauge = gauge
        self._committed: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (tracker epoch, offset)
        self._labelled: set[TopicPartition] = set()

    def remember(self, offsets: dict[TopicPartition, int], epochs: dict[TopicPartition, int]) -> None:
        """Offsets this worker just committed, with the epochs they were consumed under."""
        for tp, off in offsets.items():
            self._committed[tp] = (epochs[tp], off)

    def update(self, consumer) -> None:
        """Set the gauge for every assigned partition; drop the labels of partitions no longer assigned."""
        try:
            assigned = set(consumer.assignment())
        except Exception:  # noqa: BLE001
            return
        for tp in self._labelled - assigned:
            self._gauge.remove(tp.topic, str(tp.partition))
        self._labelled &= assigned
        for tp in assigned:
            try:
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                committed = self._committed_offset(consumer, tp)
            except Exception:  # noqa: BLE001 - a rebalance or an outage; try again later
                continue
            self._gauge.labels(tp.topic, str(tp.partition)).set(max(0, highwater - committed))
            self._labelled.add(tp)

    def _committed_offset(self, consumer, tp: TopicPartition) -> int:
        epoch = self._tracker.epochs().get(tp, 0)
        cached = self._committed.get(tp)
        if cached is not None and cached[0] == epoch:
            return cached[1]
        offset = consumer.committed(tp, timeout_ms=2000)
        if offset is None:
            offset = consumer.beginning_offsets([tp], timeout_ms=2000).get(tp, 0)
        self._committed[tp] = (epoch, offset)
        return offset
