"""The streaming worker: consume articles, classify micro-batches, publish alerts and dead letters, commit.

Delivery is at-least-once. Offsets are committed per partition (last offset + 1) only after every alert
and dead letter of the batch is acknowledged, and never for a partition revoked while its records were
in flight. Inference runs on a worker thread while the main thread keeps polling with the assigned
partitions paused, so heartbeats and ``max_poll_interval_ms`` stay safe whatever the batch takes.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from kafka.structs import OffsetAndMetadata
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from worker.config import Config
from worker.kafka.connectivity import Connectivity, consumer_connections
from worker.kafka.clients import KafkaClients
from worker.kafka.consumer import OwnedBuffer, PartitionTracker, check_topics, fmt_partitions
from worker.kafka.inflight import CrashGuard
from worker.kafka.lag import LagGauge
from worker.kafka.messages import messages_for
from worker.kafka.producer import PublishAborted, ResilientProducer
from worker.kafka.settings import check_tls
from worker.metrics import BatchStats, Metrics
from worker.processing import Processor

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 15.0  # after a stop request, give up on an unacknowledged batch (it is redelivered)
HOUSEKEEPING_S = 5.0  # how often lag and broker connectivity are refreshed, and failed commits retried
COMMIT_TIMEOUT_MS = 5000  # the longest a commit holds the poll thread


class Worker:
    """One consumer-group member. ``run()`` blocks until ``request_stop()``; returns the exit code."""

    def __init__(self, cfg: Config, metrics: Metrics, classifier=None, clients: KafkaClients = KafkaClients()):
        self.cfg = cfg
        self.clients = clients
        self.metrics = metrics
        self.processor: Processor | None = None
        self.stop_event = threading.Event()
        self._stop_at: float | None = None
        self._abort = threading.Event()
        self.tracker = PartitionTracker(on_change=metrics.assigned_partitions.set)
        self.buffer = OwnedBuffer(self.tracker)
        self.consumer = None
        self.producer = ResilientProducer(
            cfg.kafka, should_abort=self._abort.is_set, on_error=self._on_publish_error,
            on_success=self._on_publish_success, sleep=self._abort.wait, make=clients.producer)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="batch")
        self._last_loop = time.monotonic()
        self._last_housekeeping = 0.0
        self._batch_started: float | None = None
        self.broker = Connectivity()
        self._uncommitted: dict[TopicPartition, tuple[int, int]] = {}  # failed commits: (offset, epoch)
        self.inflight = clients.inflight(cfg.kafka)
        self.guard = CrashGuard(self.inflight)
        self.lag = LagGauge(self.tracker, metrics.consumer_lag, clients.committed(cfg.kafka))
        self.exit_code = 0
        if classifier is not None:
            self.set_classifier(classifier)

    # --- health --------------------------------------------------------------------------------
    def set_classifier(self, classifier) -> None:
        self.processor = Processor(classifier, self.cfg.input.max_text_chars)
        self.metrics.model_info.info({"name": str(classifier.name), "version": str(classifier.version)})
        self._update_ready()

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self._last_loop
        batch = self._batch_started and time.monotonic() - self._batch_started
        if batch and batch > self.cfg.batch.max_seconds:
            return False, f"one batch in flight for {batch:.0f} s (batch.max_seconds: {self.cfg.batch.max_seconds:g})"
        return age <= self.cfg.metrics.liveness_timeout_s, f"main loop iterated {age:.1f} s ago"

    def started(self) -> tuple[bool, str]:
        return (True, "model loaded") if self.processor is not None else (False, "model not loaded")

    def ready(self) -> tuple[bool, str]:
        if self.processor is None:
            return False, "model not loaded"
        if not self.broker.ok:
            return False, "broker not connected"
        return True, "model loaded, broker connected"

    def _broker_state(self, event: Callable[[], None]) -> None:
        """Apply ``good``/``bad``/``down`` of ``self.broker``; log and publish a change of readiness."""
        was = self.broker.ok
        event()
        if self.broker.ok != was:
            log.log(logging.INFO if self.broker.ok else logging.WARNING, "broker %s",
                    "connected" if self.broker.ok else "unreachable")
        self._update_ready()

    def _update_ready(self) -> None:
        self.metrics.ready.set(1 if self.ready()[0] else 0)

    def _on_publish_error(self, exc: Exception) -> None:
        self.metrics.broker_errors.labels("produce").inc()
        self._broker_state(self.broker.bad)

    def _on_publish_success(self) -> None:
        self._broker_state(self.broker.good)

    def request_stop(self) -> None:
        """Finish the batch in flight, commit, close (safe from signal handlers and other threads)."""
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self.stop_event.set()

    # --- main loop -----------------------------------------------------------------------------
    def run(self) -> int:
        kcfg, bcfg = self.cfg.kafka, self.cfg.batch
        try:
            self.consumer = self._connect()
            if self.consumer is None:
                return self.exit_code
            self.consumer.subscribe([kcfg.input_topic], listener=self.tracker)
            log.info("consuming %s as group %s; alerts to %s, dead letters to %s", kcfg.input_topic,
                     kcfg.group_id, kcfg.output_topic, kcfg.dead_letter_topic)
            buffer, deadline = self.buffer, None
            while not self.stop_event.is_set():
                self._tick()
                if len(buffer) < bcfg.max_records:
                    wait_ms = 1000 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
                    self._poll(wait_ms, bcfg.max_records - len(buffer))
                if buffer and deadline is None:
                    deadline = buffer.deadline(bcfg.max_wait_ms)
                if buffer and (len(buffer) >= bcfg.max_records or time.monotonic() >= deadline):
                    self._process_batch(*buffer.take(bcfg.max_records))
                    deadline = buffer.deadline(bcfg.max_wait_ms) if buffer else None
            while buffer and not self._abort.is_set():  # stopping: finish what was already consumed
                self._process_batch(*buffer.take(bcfg.max_records))
            self._retry_commits()
            self.guard.release_partitions({tp: ep for tp, (_, ep) in self._uncommitted.items()})
            return self.exit_code
        finally:
            self._close()

    def _tick(self) -> None:
        self._last_loop = time.monotonic()
        self.metrics.mark_loop()
        if self._last_loop - self._last_housekeeping >= HOUSEKEEPING_S and self.consumer is not None:
            self._last_housekeeping = self._last_loop
            self._check_broker()
            self._retry_commits()
            self._update_lag()
        if self._stop_at is not None and time.monotonic() - self._stop_at > SHUTDOWN_GRACE_S:
            self._abort.set()

    def _connect(self):
        """The consumer, retried with backoff while the cluster is unreachable (None if stopped first)."""
        retrying = Retrying(
            retry=retry_if_exception_type((KafkaTimeoutError, KafkaConnectionError)),
            wait=wait_exponential(multiplier=0.5, max=self.cfg.kafka.retry_backoff_max_s),
            stop=lambda state: self.stop_event.is_set(), sleep=self.stop_event.wait, reraise=True,
            before_sleep=lambda state: (self._tick(), log.warning(
                "cannot reach Kafka at %s (%s); retrying", self.cfg.kafka.bootstrap_servers,
                state.outcome.exception())))
        try:
            for attempt in retrying:
                with attempt:
                    check_tls(self.cfg.kafka)
                    consumer = self.clients.consumer(self.cfg.kafka, self.cfg.batch.max_records)
        except Exception:
            if self.stop_event.is_set():
                return None
            raise
        self._broker_state(self.broker.good)
        check_topics(consumer, self.cfg.kafka)
        self.inflight.ensure_topic(len(consumer.partitions_for_topic(self.cfg.kafka.input_topic) or [0]))
        return consumer

    def _poll(self, timeout_ms: int, max_records: int) -> None:
        """Poll into the buffer, each record tagged with its partition's epoch after the poll: a partition
        revoked and assigned again during the poll returns records of its new ownership (kafka-python fetches
        a re-assigned partition from its committed offset), and dropping them would lose them, the fetch
        position being past them. Tagged late, a record of the old ownership is at worst processed twice."""
        try:
            polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=max(1, max_records))
        except KafkaError as exc:
            self.metrics.broker_errors.labels("poll").inc()
            self._broker_state(self.broker.bad)
            log.warning("poll failed (%s: %s); retrying", type(exc).__name__, exc)
            self.stop_event.wait(1.0)
            return
        records = [r for recs in polled.values() for r in recs]
        if records:
            self.metrics.records_consumed.labels(self.cfg.kafka.input_topic).inc(len(records))
        self.buffer.add(records, self.tracker.epochs())

    # --- one micro-batch -----------------------------------------------------------------------
    def _process_batch(self, batch: list[ConsumerRecord], epochs: dict[TopicPartition, int]) -> None:
        """Classify, publish, wait for acks, then commit the partitions owned throughout (``epochs``)."""
        if not batch:
            return
        started = time.perf_counter()
        self._release_moved()
        self._batch_started = time.monotonic()
        future = self._executor.submit(self._handle, batch, epochs)
        try:
            self._wait_paused(future)
        finally:
            self._batch_started = None
        try:
            stats = future.result()
        except PublishAborted as exc:
            log.warning("batch of %d records abandoned at shutdown (%s); they will be redelivered",
                        len(batch), exc)
            self.guard.release_partitions(epochs)
            self.exit_code = 1
            return
        offsets: dict[TopicPartition, int] = {}
        for r in batch:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        keep = self.tracker.still_owned(epochs)
        if set(offsets) - keep:
            log.info("not committing %s: revoked while in flight", fmt_partitions(set(offsets) - keep))
            self.guard.release_partitions({tp: epochs[tp] for tp in set(offsets) - keep})
        committed = self._commit({tp: off for tp, off in offsets.items() if tp in keep}, epochs)
        self.metrics.last_success.set(time.time())
        self._update_lag()
        log.info("batch of %d records: %d alerts, %d no alert, %d dead letters; %.2f s (inference %.2f s); "
                 "committed %s", stats.records, stats.alerts, stats.no_alert, stats.dead_letters,
                 time.perf_counter() - started, stats.inference_s, _fmt_offsets(committed) or "nothing",
                 extra={"records": stats.records, "alerts": stats.alerts, "no_alert": stats.no_alert,
                        "dead_letters": stats.dead_letters, "dead_letter_reasons": stats.reasons,
                        "inference_s": round(stats.inference_s, 3)})

    def _wait_paused(self, future: Future) -> None:
        """Keep polling (partitions paused, so nothing new arrives) until the batch is done."""
        while True:
            try:
                future.result(timeout=0.05)
                break
            except FutureTimeout:
                pass
            except Exception:  # noqa: BLE001 - the caller reads the exception from the future
                break
            self._tick()
            try:
                assigned = self.consumer.assignment()
                if assigned:
                    self.consumer.pause(*assigned)  # again: a rebalance resets pausing
            except KafkaError:
                log.debug("pause failed during a rebalance", exc_info=True)
            self._poll(50, self.cfg.batch.max_records)
        try:
            paused = self.consumer.paused()
            if paused:
                self.consumer.resume(*paused)
        except KafkaError:
            log.debug("resume failed during a rebalance", exc_info=True)

    def _handle(self, batch: list[ConsumerRecord], epochs: dict[TopicPartition, int]) -> BatchStats:
        """Worker thread: classify (announcing what is in flight), publish and wait for acks, then count."""
        kcfg = self.cfg.kafka
        started = time.perf_counter()
        outcomes = self.guard.process(batch, epochs, self.processor.process)
        inference_s = time.perf_counter() - started
        messages = [m for r, o in zip(batch, outcomes)
                    for m in messages_for(r, o, kcfg.output_topic, kcfg.dead_letter_topic)]
        self.producer.publish(messages)
        return self.metrics.count_batch(outcomes, [r.timestamp for r in batch], inference_s)

    def _commit(self, offsets: dict[TopicPartition, int], epochs: dict[TopicPartition, int]):
        """One attempt, at most ``COMMIT_TIMEOUT_MS`` on the poll thread; a failure is retried by housekeeping
        (every ``HOUSEKEEPING_S``) while the partitions stay ours, not here."""
        if not offsets:
            return {}
        try:
            self.consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()},
                                 timeout_ms=min(self.cfg.kafka.request_timeout_ms, COMMIT_TIMEOUT_MS))
        except Exception as exc:  # noqa: BLE001 - retried by housekeeping while the partitions stay ours
            self.metrics.broker_errors.labels("commit").inc()
            log.warning("commit failed (%s: %s); retried while this worker keeps the partitions, else the "
                        "records are redelivered", type(exc).__name__, exc)
            for tp, off in offsets.items():
                if off > self._uncommitted.get(tp, (-1, 0))[0]:
                    self._uncommitted[tp] = (off, epochs.get(tp, 0))
            return {}
        for tp, off in offsets.items():
            if self._uncommitted.get(tp, (off, 0))[0] <= off:
                self._uncommitted.pop(tp, None)
        self.lag.remember(offsets, epochs)
        return offsets

    def _release_moved(self) -> set[TopicPartition]:
        """Forget failed commits of partitions that moved since (their owner, maybe this worker again, reads
        from the committed offset) and mark their batches released, not crashed; the rest, still owned."""
        pending = {tp: ep for tp, (_, ep) in self._uncommitted.items()}
        owned = self.tracker.still_owned(pending)
        moved = {tp: ep for tp, ep in pending.items() if tp not in owned}
        for tp in moved:
            del self._uncommitted[tp]
        self.guard.release_partitions(moved)
        return owned

    def _retry_commits(self) -> None:
        """Commit again what failed (a rebalance or outage in the way) for partitions still owned in the
        same epoch: records processed while the partition stays ours are not fetched again, so without this
        a partition with nothing newer to process would stay behind (phantom lag, redelivery on restart)."""
        owned = self._release_moved()
        if owned:
            committed = self._commit({tp: self._uncommitted[tp][0] for tp in owned},
                                     {tp: self._uncommitted[tp][1] for tp in owned})
            if committed:
                log.info("committed %s (retried)", _fmt_offsets(committed))

    # --- housekeeping --------------------------------------------------------------------------
    def _check_broker(self) -> None:
        """Connected when the consumer holds an open connection to some broker (its public metrics)."""
        connections = consumer_connections(self.consumer)
        if connections is not None:
            self._broker_state(self.broker.good if connections > 0 else self.broker.bad)

    def _update_lag(self) -> None:
        self.lag.update(self.consumer)

    def _close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.lag.close()
        self.inflight.close()
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False)
            except Exception:  # noqa: BLE001
                log.warning("closing the consumer failed", exc_info=True)
        try:
            self.producer.close(timeout=5)
        except Exception:  # noqa: BLE001
            log.warning("closing the producer failed", exc_info=True)
        self._broker_state(self.broker.down)


def _fmt_offsets(offsets: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{off}" for tp, off in sorted(offsets.items()))
