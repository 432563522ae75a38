"""The input consumer and the record of which partitions this worker owns.

kafka-python 3 runs rebalance callbacks on its IO thread, where blocking consumer calls are forbidden.
So the listener only records what changed (under a lock); the main loop reads ``PartitionTracker``
and never commits offsets of a partition that was revoked while its records were in flight.
"""

from __future__ import annotations

import logging
import threading
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.consumer.fetcher import ConsumerRecord
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor

from worker.config import ConfigError, KafkaConfig
from worker.kafka.settings import client_settings

log = logging.getLogger(__name__)

# Cooperative (incremental) rebalancing: a rebalance revokes only the partitions that move, so records
# buffered or in flight for the partitions a worker keeps stay valid and their offsets are committed.
# (With the eager assignors every rebalance revokes everything, and kafka-python keeps the fetch position
# of a partition that comes back: records dropped at revocation were never fetched again.) A partition
# that does move comes back, if ever, with a fresh fetch position: its committed offset.
ASSIGNORS = (CooperativeStickyAssignor,)


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
            log.info("partitions revoked: %s", fmt_partitions(revoked))
        self._changed()

    def on_partitions_lost(self, lost):
        self.on_partitions_revoked(lost)

    def on_partitions_assigned(self, assigned):
        with self._lock:
            self._owned.update(assigned)
        log.info("partitions assigned: %s", fmt_partitions(assigned) or "none")
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(len(self.owned()))

    def owned(self) -> set[TopicPartition]:
        with self._lock:
            return set(self._owned)

    def epochs(self) -> dict[TopicPartition, int]:
        """Every partition's epoch now (0 for one never revoked)."""
        with self._lock:
            return dict(self._epoch)

    def current(self, tagged) -> tuple[list, dict[TopicPartition, int]]:
        """Of ``(epoch, record)`` pairs, the records still in their epoch, and the epochs of their partitions."""
        with self._lock:
            keep = [(e, r) for e, r in tagged if _tp(r) in self._owned and self._epoch.get(_tp(r), 0) == e]
        return [r for _, r in keep], {_tp(r): e for e, r in keep}

    def still_owned(self, epochs: dict[TopicPartition, int]) -> set[TopicPartition]:
        """Partitions of ``epochs`` owned now and not revoked since those epochs."""
        with self._lock:
            return {tp for tp, epoch in epochs.items() if tp in self._owned and self._epoch.get(tp, 0) == epoch}


class OwnedBuffer:
    """Polled records waiting for a batch, each tagged with its partition's epoch when it was polled."""

    def __init__(self, tracker: PartitionTracker):
        self.tracker = tracker
        self._tagged: list[tuple[int, ConsumerRecord]] = []

    def __len__(self) -> int:
        return len(self._tagged)

    def add(self, records: list[ConsumerRecord], epochs: dict[TopicPartition, int]) -> None:
        """``epochs``: ``tracker.epochs()`` taken after the poll that returned ``records``."""
        self._tagged += [(epochs.get(_tp(r), 0), r) for r in records]

    def deadline(self, max_wait_ms: int, now: float | None = None, wall: float | None = None) -> float:
        """When the batch must start (``time.monotonic()`` scale): ``max_wait_ms`` after its oldest record's
        Kafka timestamp, so a record that already waited (behind a batch in flight) waits no longer; never
        later than ``max_wait_ms`` from now (producer clocks may run ahead)."""
        now = time.monotonic() if now is None else now
        wall = time.time() if wall is None else wall
        stamps = [r.timestamp for _, r in self._tagged if r.timestamp is not None and r.timestamp > 0]
        waited = max(0.0, wall - min(stamps) / 1000) if stamps else 0.0
        return now + max(0.0, max_wait_ms / 1000 - waited)

    def take(self, n: int) -> tuple[list[ConsumerRecord], dict[TopicPartition, int]]:
        """Up to ``n`` records still owned in the epoch they were polled in, and those epochs (for
        ``PartitionTracker.still_owned``); records of revoked partitions are dropped: whoever owns the
        partition now reads them again from its committed offset."""
        head, self._tagged = self._tagged[:n], self._tagged[n:]
        records, epochs = self.tracker.current(head)
        if len(records) < len(head):
            log.info("dropped %d records of partitions revoked since they were polled; their owner reads them "
                     "again from the committed offset", len(head) - len(records))
        return records, epochs


def _tp(record: ConsumerRecord) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def fmt_partitions(partitions) -> str:
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
        partition_assignment_strategy=ASSIGNORS,
    )


def check_topics(consumer: KafkaConsumer, cfg: KafkaConfig) -> None:
    """The three topics must exist: a missing one is a configuration mistake (exit 2, one line), not
    something to retry forever or to have auto-created with the broker's defaults."""
    try:
        existing = consumer.topics()
    except KafkaError as exc:
        log.warning("could not list topics (%s); not checking them", exc)
        return
    missing = [t for t in (cfg.input_topic, cfg.output_topic, cfg.dead_letter_topic) if t not in existing]
    if missing:
        consumer.close(autocommit=False)
        raise ConfigError(f"config error: kafka: topic(s) {', '.join(missing)} do not exist on "
                          f"{cfg.bootstrap_servers}; create them first (see the README, Deploy)")
