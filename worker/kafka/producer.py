"""Publishing alerts and dead letters with acknowledgement, retried through broker outages.

A failed attempt discards the producer and builds a new one: after a broker restart an idempotent
producer is left broken (UnknownProducerIdError), and a fresh one is the reliable cure. A retry resends
every message not yet acknowledged, so it can only duplicate, never lose (at-least-once). A message that
fails permanently (``PERMANENT``: too large, not authorised for the topic, invalid topic or record) is
replaced at once by its fallback (see ``worker.kafka.messages``) instead of being retried forever.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

from kafka import KafkaProducer
from kafka.errors import (InvalidRecordError, InvalidTopicError, KafkaError, KafkaTimeoutError,
                          MessageSizeTooLargeError, PolicyViolationError, RecordListTooLargeError,
                          TopicAuthorizationFailedError)
from tenacity import RetryCallState, Retrying, retry_if_not_exception_type, wait_exponential

from worker.config import KafkaConfig
from worker.kafka.messages import Message
from worker.kafka.settings import client_settings

log = logging.getLogger(__name__)

# errors that resending the same message cannot cure (anything else, e.g. UnknownError during a broker
# restart, is retried)
PERMANENT = (MessageSizeTooLargeError, RecordListTooLargeError, TopicAuthorizationFailedError, InvalidTopicError,
             InvalidRecordError, PolicyViolationError)


def make_producer(cfg: KafkaConfig) -> KafkaProducer:
    """Every message acknowledged by all in-sync replicas; blocking at most 10 s when the broker is away."""
    return KafkaProducer(**client_settings(cfg), acks="all", linger_ms=5, max_block_ms=min(cfg.request_timeout_ms, 10_000))


class PublishAborted(Exception):
    """Shutdown was requested while the broker was still unreachable; nothing was committed."""


class ResilientProducer:
    """``publish(messages)`` returns once every message is acknowledged (acks=all)."""

    def __init__(self, cfg: KafkaConfig, *, should_abort: Callable[[], bool] = lambda: False,
                 on_error: Callable[[Exception], None] = lambda exc: None,
                 on_success: Callable[[], None] = lambda: None, sleep: Callable[[float], object] | None = None,
                 make: Callable[[KafkaConfig], KafkaProducer] = make_producer):
        """``make(cfg)``: a new producer."""
        self.cfg = cfg
        self._make_producer = make
        self.should_abort = should_abort
        self.on_error = on_error
        self.on_success = on_success
        self._sleep = sleep
        self._producer: KafkaProducer | None = None

    def _make(self) -> KafkaProducer:
        return self._make_producer(self.cfg)

    def publish(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        retrying = Retrying(
            retry=retry_if_not_exception_type(PublishAborted),
            wait=wait_exponential(multiplier=0.2, max=self.cfg.retry_backoff_max_s),
            stop=lambda state: self.should_abort(),
            before_sleep=self._log_retry,
            **({"sleep": self._sleep} if self._sleep else {}),
            reraise=True)
        pending = list(messages)
        try:
            for attempt in retrying:
                with attempt:
                    if self.should_abort():
                        raise PublishAborted("shutdown requested before the broker acknowledged the batch")
                    self._publish_once(pending)
        except PublishAborted:
            raise
        except Exception as exc:
            if self.should_abort():
                raise PublishAborted(f"shutdown requested while publishing failed: {exc}") from exc
            raise
        self.on_success()

    def _publish_once(self, pending: list[Message]) -> None:
        """Send ``pending`` until all are acknowledged, swapping permanent failures for their fallbacks;
        on a retriable failure leave the unacknowledged ones in ``pending`` and raise."""
        try:
            while pending:
                retry, fallbacks = [], []
                for m, e in zip(pending, self._send(pending)):
                    if e is None:
                        continue
                    if m.fallback is not None and isinstance(e, PERMANENT):
                        log.error("cannot publish to %s (%s: %s); publishing its fallback instead", m.topic,
                                  type(e).__name__, e)
                        fallbacks.append(m.fallback(e))
                    else:
                        retry.append((m, e))
                pending[:] = [m for m, _ in retry] + fallbacks
                if retry:
                    raise retry[0][1]
        except Exception as exc:
            self.on_error(exc)
            self._discard()
            raise

    def _send(self, messages: list[Message]) -> list[Exception | None]:
        """Send all, wait for every acknowledgement; each message's error (None when acknowledged)."""
        if self._producer is None:
            self._producer = self._make()
        futures: list = []
        for m in messages:
            try:
                futures.append(self._producer.send(m.topic, key=m.key, value=m.value, headers=m.headers or None))
            except PERMANENT as exc:  # e.g. over max_request_size, raised before sending
                futures.append(exc)
        deadline = time.monotonic() + self.cfg.request_timeout_ms / 1000
        errors: list[Exception | None] = []
        for future in futures:
            errors.append(future if isinstance(future, Exception) else self._wait(future, deadline))
        return errors

    def _wait(self, future, deadline: float) -> Exception | None:
        while True:  # wait in slices so a shutdown request is noticed within a second
            try:
                future.get(timeout=1.0)
                return None
            except KafkaTimeoutError as exc:
                if future.is_done or self.should_abort() or time.monotonic() > deadline:
                    return exc
            except KafkaError as exc:
                return exc

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("publishing failed (%s: %s); new producer, retry in %.1f s", type(exc).__name__, exc,
                    state.next_action.sleep if state.next_action else 0)

    def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # noqa: BLE001 - it is broken anyway
                log.debug("closing a broken producer failed", exc_info=True)

    def close(self, timeout: float = 5.0) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=timeout)
