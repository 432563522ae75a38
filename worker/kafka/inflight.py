"""Poison pills: a record that kills the process (a native crash, an out-of-memory kill) is found and
dead-lettered instead of crash-looping the worker.

Before a batch is processed, the worker writes what it is about to process, per input partition, to an
in-flight topic (partition p of the input -> partition p of the in-flight topic, so the last entry there is
the last owner's). A worker that starts on a partition reads that last entry: if it names the offset the
partition resumes from and was not released, the process died while working on it. Then:

- it died on a batch: the batch's records are processed one at a time, each announced first (``at``), so a
  death names its record;
- it died on a record processed alone: that record surely crashed the process. The second time, it is
  dead-lettered as ``poison_pill`` on the next start, without being processed again.

A batch given up at shutdown or revoked in a rebalance is released, so only deaths count. A SIGKILL of a
healthy worker is a death too: killing it twice while the same record is processed alone dead-letters it.
Decisions are pure (``plan``); ``CrashGuard`` applies them to a batch; ``InflightLog`` does the I/O.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, TopicAlreadyExistsError

from worker.config import ConfigError, KafkaConfig
from worker.kafka.settings import client_settings
from worker.processing import Outcome, peek_id

log = logging.getLogger(__name__)

POISON_PILL = "poison_pill"
POISON_AFTER = 2  # crashes of a record processed alone
READ_TIMEOUT_MS = 5000
PAUSE_AFTER_FAILURE_S = 30.0  # a failed write pauses the bookkeeping (and its timeouts) this long


@dataclass(frozen=True)
class Entry:
    """What a worker was about to process on one input partition: offsets ``start``..``end``; ``at`` the
    one record processed alone (None: the whole batch) and ``hits`` how often that record had already
    crashed the process alone; ``released``: given up cleanly, not a crash."""

    start: int
    end: int
    at: int | None = None
    hits: int = 0
    released: bool = False

    def encode(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> "Entry | None":
        try:
            obj = json.loads(raw or b"null")
            return cls(**obj) if isinstance(obj, dict) else None
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Plan:
    """How to process one partition's records of a batch."""

    isolate_until: int = -1  # records up to this offset are processed one at a time
    poison: int | None = None  # dead-letter this offset without processing it
    suspect: int | None = None  # this offset already crashed the process alone ``suspect_hits`` times
    suspect_hits: int = 0

    def hits(self, offset: int) -> int:
        return self.suspect_hits if offset == self.suspect else 0


def plan(last: Entry | None, start: int) -> Plan:
    """The plan for a partition whose records resume at ``start``, given its last in-flight entry."""
    if last is None or last.released or last.start != start:
        if last is not None and not last.released and last.at is not None and start <= last.end:
            return Plan(isolate_until=last.end)  # committed part of a range that crashed: on, one at a time
        return Plan()
    if last.at is None:  # died on the whole batch that starts here
        return Plan(isolate_until=last.end)
    if last.hits + 1 >= POISON_AFTER:  # died on this record alone, again
        return Plan(isolate_until=last.end, poison=last.at)
    return Plan(isolate_until=last.end, suspect=last.at, suspect_hits=last.hits + 1)


def inflight_topic(cfg: KafkaConfig) -> str:
    return cfg.inflight_topic or f"{cfg.group_id}-inflight"


class InflightLog:
    """Reads and writes the in-flight topic (created at start, as many partitions as the input)."""

    def __init__(self, cfg: KafkaConfig):
        self.cfg = cfg
        self.topic = inflight_topic(cfg)
        self._producer: KafkaProducer | None = None
        self._reader: KafkaConsumer | None = None
        self._partitions = 1
        self._paused_until = 0.0

    def ensure_topic(self, input_partitions: int) -> None:
        """Create the topic (or add partitions) so every input partition has its own; a missing permission
        is a configuration error."""
        self._partitions = input_partitions
        admin = KafkaAdminClient(**client_settings(self.cfg))
        try:
            brokers = len(admin.describe_cluster().get("brokers", [])) or 1
            try:
                admin.create_topics([NewTopic(self.topic, input_partitions, min(3, brokers))])
                log.info("created the in-flight topic %s (%d partitions)", self.topic, input_partitions)
            except TopicAlreadyExistsError:
                have = len(admin.describe_topics([self.topic])[0]["partitions"])
                if have < input_partitions:
                    admin.create_partitions({self.topic: NewPartitions(input_partitions)})
        except KafkaError as exc:
            raise ConfigError(f"config error: kafka: cannot create the in-flight topic {self.topic} ({exc}); "
                              "create it with as many partitions as the input topic, or allow the worker to "
                              "(see the README, Delivery semantics)") from exc
        finally:
            admin.close()

    def last(self, partition: int) -> Entry | None:
        """The last entry of an input partition (None if there is none or it cannot be read)."""
        tp = TopicPartition(self.topic, partition)
        try:
            if self._reader is None:
                self._reader = KafkaConsumer(**client_settings(self.cfg), enable_auto_commit=False,
                                             group_id=None)
            self._reader.assign([tp])
            self._reader.seek_to_end(tp)
            end = self._reader.position(tp, timeout_ms=READ_TIMEOUT_MS)
            if not end:
                return None
            self._reader.seek(tp, end - 1)
            records = self._reader.poll(timeout_ms=READ_TIMEOUT_MS, max_records=1).get(tp, [])
            return Entry.decode(records[-1].value) if records else None
        except KafkaError as exc:
            log.warning("cannot read the in-flight topic %s (%s); partition %d starts without it",
                        self.topic, exc, partition)
            return None

    def write(self, entries: dict[int, Entry]) -> None:
        """Write entries (input partition -> entry) and wait for them. A failure (e.g. the topic vanished
        with a broker's memory) recreates the topic and tries once more; if that fails too, it is logged and
        the bookkeeping pauses for a while rather than slow every batch down. Never raises."""
        if not entries or time.monotonic() < self._paused_until:
            return
        for attempt in (1, 2):
            try:
                if self._producer is None:
                    self._producer = KafkaProducer(**client_settings(self.cfg), acks="all", linger_ms=0,
                                                   max_block_ms=READ_TIMEOUT_MS)
                futures = [self._producer.send(self.topic, value=e.encode(), partition=p) for p, e in entries.items()]
                for f in futures:
                    f.get(timeout=READ_TIMEOUT_MS / 1000)
                return
            except KafkaError as exc:
                self.close()
                if attempt == 1:
                    try:
                        self.ensure_topic(self._partitions)
                        continue
                    except ConfigError:
                        pass
                log.warning("cannot write the in-flight topic %s (%s); crashes are not traced for %.0f s",
                            self.topic, exc, PAUSE_AFTER_FAILURE_S)
                self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
                return

    def close(self) -> None:
        """Close both clients without waiting on a broker that is gone."""
        try:
            if self._producer is not None:
                self._producer.close(timeout=1)
            if self._reader is not None:
                self._reader.close(autocommit=False, timeout_ms=1000)
        except Exception:  # noqa: BLE001
            log.debug("closing an in-flight client failed", exc_info=True)
        self._producer = self._reader = None


class CrashGuard:
    """Runs a batch through ``process`` announcing what is in flight, per the plan of each partition."""

    def __init__(self, log_: InflightLog):
        self.log = log_
        self._last: dict[tuple[TopicPartition, int], Entry | None] = {}  # (partition, epoch) -> last entry

    def process(self, batch: Sequence[ConsumerRecord], epochs: dict[TopicPartition, int],
                process: Callable[[list, list], list[Outcome]]) -> list[Outcome]:
        """Outcomes in batch order (``process(values, timestamps)`` is the Processor's)."""
        starts: dict[TopicPartition, int] = {}
        ends: dict[TopicPartition, int] = {}
        for r in batch:
            tp = _tp(r)
            starts[tp], ends[tp] = min(starts.get(tp, r.offset), r.offset), max(ends.get(tp, r.offset), r.offset)
        plans = {tp: plan(self._last_entry(tp, epochs.get(tp, 0)), start) for tp, start in starts.items()}
        outcomes: list[Outcome | None] = [None] * len(batch)
        rest = []
        for i, r in enumerate(batch):
            tp, p = _tp(r), plans[_tp(r)]
            if r.offset == p.poison:
                log.error("record %s[%d]@%d crashed the process twice: dead-lettered as %s", r.topic, r.partition,
                          r.offset, POISON_PILL)
                outcomes[i] = Outcome(peek_id(r.value), reason=POISON_PILL, detail=(
                    f"the worker process died twice while processing this record alone ({r.topic}[{r.partition}]"
                    f"@{r.offset}); it was not processed again"))
            elif r.offset <= p.isolate_until:
                self._announce({tp: Entry(starts[tp], max(p.isolate_until, ends[tp]), r.offset, p.hits(r.offset))},
                               epochs)
                outcomes[i] = process([r.value], [r.timestamp])[0]
            else:
                rest.append(i)
        if rest:
            self._announce({tp: Entry(starts[tp], ends[tp]) for tp in {_tp(batch[i]) for i in rest}}, epochs)
            for i, o in zip(rest, process([batch[i].value for i in rest], [batch[i].timestamp for i in rest])):
                outcomes[i] = o
        return outcomes

    def release_partitions(self, epochs: dict[TopicPartition, int]) -> None:
        """Mark the last entry of partitions given up cleanly (a batch abandoned at shutdown or revoked in
        flight, a failed commit whose partition then moved): their records are redelivered, nothing crashed."""
        entries = {tp: self._last.get((tp, ep)) for tp, ep in epochs.items()}
        self._announce({tp: Entry(e.start, e.end, released=True) for tp, e in entries.items()
                        if e is not None and not e.released}, epochs)

    def _last_entry(self, tp: TopicPartition, epoch: int) -> Entry | None:
        """Read once per ownership (epoch), then known here as it is written."""
        if (tp, epoch) not in self._last:
            self._last[(tp, epoch)] = self.log.last(tp.partition)
        return self._last[(tp, epoch)]

    def _announce(self, entries: dict[TopicPartition, Entry], epochs: dict[TopicPartition, int]) -> None:
        self.log.write({tp.partition: e for tp, e in entries.items()})
        self._last.update({(tp, epochs.get(tp, 0)): e for tp, e in entries.items()})


def _tp(record: ConsumerRecord) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)
