"""Consumer lag per assigned partition: highwater minus the group's committed offset.

``end_offsets()`` is not trusted (wrong after batched produces on some brokers), so lag is computed from
the consumer's highwater mark (local, non-blocking). Committed offsets come from this worker's own commits
(cached per partition and assignment epoch, see ``PartitionTracker``) or, for a partition it has not
committed yet in this ownership, from ``CommittedOffsets``: a daemon thread with its own admin client, so
the poll thread never waits for the broker (the consumer's ``committed()`` blocks, and kafka-python's
consumer is not thread-safe). A partition without any commit counts from its earliest offset.
"""

from __future__ import annotations

import logging
import threading

from kafka import TopicPartition

from worker.kafka.consumer import PartitionTracker

log = logging.getLogger(__name__)


class CommittedOffsets:
    """The group's committed offsets of the partitions asked for, refreshed every ``interval_s`` off-thread."""

    def __init__(self, settings: dict, group_id: str, interval_s: float = 2.0):
        self._settings, self._group, self._interval = settings, group_id, interval_s
        self._wanted: set[TopicPartition] = set()
        self._offsets: dict[TopicPartition, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, tp: TopicPartition) -> int | None:
        """The last fetched committed offset (earliest offset if none), or None (asked for; not fetched yet)."""
        with self._lock:
            self._wanted.add(tp)
            offset = self._offsets.get(tp)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lag-offsets", daemon=True)
            self._thread.start()
        return offset

    def forget(self, keep: set[TopicPartition]) -> None:
        with self._lock:
            self._wanted &= keep
            self._offsets = {tp: off for tp, off in self._offsets.items() if tp in keep}

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from kafka.admin import KafkaAdminClient, OffsetSpec

        admin = None
        while True:
            with self._lock:
                wanted = sorted(self._wanted)
            if wanted:
                try:
                    admin = admin or KafkaAdminClient(**self._settings)
                    found = admin.list_group_offsets({self._group: wanted}).get(self._group, {})
                    offsets = {tp: om.offset for tp, om in found.items() if om is not None and om.offset >= 0}
                    missing = [tp for tp in wanted if tp not in offsets]
                    if missing:
                        earliest = admin.list_partition_offsets(dict.fromkeys(missing, OffsetSpec.EARLIEST))
                        offsets.update({tp: getattr(o, "offset", o) for tp, o in earliest.items()})
                    with self._lock:
                        self._offsets.update({tp: off for tp, off in offsets.items() if tp in self._wanted})
                except Exception as exc:  # noqa: BLE001 - an outage or a rebalance: try again later
                    log.debug("fetching committed offsets failed: %s", exc)
                    if admin is not None:
                        admin.close()
                    admin = None
            if self._stop.wait(self._interval):
                break
        if admin is not None:
            admin.close()


class LagGauge:
    """Keeps the ``consumer_lag`` gauge (labels topic, partition) in step with the assignment."""

    def __init__(self, tracker: PartitionTracker, gauge, fetched: CommittedOffsets | None = None):
        self._tracker = tracker
        self._gauge = gauge
        self._fetched = fetched
        self._committed: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (tracker epoch, offset)
        self._labelled: set[TopicPartition] = set()

    def remember(self, offsets: dict[TopicPartition, int], epochs: dict[TopicPartition, int]) -> None:
        """Offsets this worker just committed, with the epochs they were consumed under."""
        for tp, off in offsets.items():
            self._committed[tp] = (epochs[tp], off)

    def update(self, consumer) -> None:
        """Set the gauge for every assigned partition whose committed offset is known; drop the labels of
        partitions no longer assigned. Never waits for the broker."""
        try:
            assigned = set(consumer.assignment())
        except Exception:  # noqa: BLE001
            return
        for tp in self._labelled - assigned:
            self._gauge.remove(tp.topic, str(tp.partition))
        self._labelled &= assigned
        if self._fetched is not None:
            self._fetched.forget(assigned)
        for tp in assigned:
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not fetched yet, or a rebalance moved it
                continue
            committed = self._committed_offset(tp)
            if highwater is None or committed is None:
                continue
            self._gauge.labels(tp.topic, str(tp.partition)).set(max(0, highwater - committed))
            self._labelled.add(tp)

    def close(self) -> None:
        if self._fetched is not None:
            self._fetched.close()

    def _committed_offset(self, tp: TopicPartition) -> int | None:
        cached = self._committed.get(tp)
        if cached is not None and cached[0] == self._tracker.epochs().get(tp, 0):
            return cached[1]
        return self._fetched.get(tp) if self._fetched is not None else None
