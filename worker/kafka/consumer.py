"""The input consumer and the record of which partitions this worker owns.

kafka-python 3 runs rebalance callbacks on its IO thread, where blocking consumer calls are forbidden.
So the listener only records what changed (under a lock); the main loop reads ``PartitionTracker``
and never commits offsets of a partition that was revoked while its records were in flight.
"""

from __future__ import annotations

import logging
import threading

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from worker.config import KafkaConfig
from worker.kafka.settings import client_settings

log = logging.getLogger(__name__)


class PartitionTracker(ConsumerRebalanceListener):
    """Owned partitions, plus an epoch per partition that changes whenever it is revoked."""

    def __init__(self, on_change=None):
        self._lock = threading.Lock()
        self._owned: set[TopicPartition] = set()
        self._epoch: dict[TopicPartition, int] = {}
        self._on_change = on_change

    def on_partitions_revoked(self, revoked):
        with self._lock:
            for tp in revoked:
                self._owned.discard(tp)
                self._epoch[tp] = self._epoch.get(tp, 0) + 1
        if revoked:
            log.info("partitions revoked: %s", _fmt(revoked))
        self._changed()

    def on_partitions_lost(self, lost):
        self.on_partitions_revoked(lost)

    def on_partitions_assigned(self, assigned):
        with self._lock:
            self._owned.update(assigned)
        log.info("partitions assigned: %s", _fmt(assigned) or "none")
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(len(self.owned()))

    def owned(self) -> set[TopicPartition]:
        with self._lock:
            return set(self._owned)

    def snapshot(self, partitions) -> dict[TopicPartition, int]:
        """Epochs of ``partitions`` now; pass to ``still_owned`` after the work is done."""
        with self._lock:
            return {tp: self._epoch.get(tp, 0) for tp in partitions}

    def still_owned(self, snapshot: dict[TopicPartition, int]) -> set[TopicPartition]:
        """Partitions of ``snapshot`` owned throughout since it was taken."""
        with self._lock:
            return {tp for tp, epoch in snapshot.items() if tp in self._owned and self._epoch.get(tp, 0) == epoch}


def _fmt(partitions) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))


def make_consumer(cfg: KafkaConfig, max_poll_records: int) -> KafkaConsumer:
    """A group consumer with auto-commit off: offsets are committed only after results are acknowledged."""
    return KafkaConsumer(
        **client_settings(cfg),
        group_id=cfg.group_id,
        enable_auto_commit=False,
        auto_offset_reset=cfg.auto_offset_reset,
        session_timeout_ms=cfg.session_timeout_ms,
        heartbeat_interval_ms=cfg.heartbeat_interval_ms,
        max_poll_interval_ms=cfg.max_poll_interval_ms,
        max_poll_records=max_poll_records,
    )
