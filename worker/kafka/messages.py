"""What the worker publishes for one input record: an alert, a dead letter, or nothing.

Each message carries its fallback for a permanent publish error (too large, not authorised...): an
alert falls back to a dead letter of its record (reason ``unpublishable_alert``), a dead letter to a
truncated one (the ``dlq.*`` headers without the original value), so one record never stops a partition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from kafka.consumer.fetcher import ConsumerRecord

from worker.processing import Outcome



@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    # what to publish instead when this message fails permanently (given the error); None: retry it
    fallback: Callable[[Exception], "Message"] | None = field(default=None, compare=False, repr=False)


def alert_message(topic: str, result: dict, record: ConsumerRecord | None = None,
                  dlq_topic: str | None = None) -> Message:
    """The result JSON (UTF-8), keyed by article id; falls back to a dead letter of ``record``."""
    fallback = None
    if record is not None and dlq_topic is not None:
        fallback = lambda exc: dead_letter(dlq_topic, record, "unpublishable_alert", _error(exc))  # noqa: E731
    return Message(
        topic=topic,
        key=result["article"]["id"].encode("utf-8"),
        value=json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        headers=[("content-type", b"application/json"), ("alert_id", result["alert_id"].encode("ascii")),
                 ("tension.level", result["tension"]["level"].encode("ascii"))],
        fallback=fallback)


def _dlq_headers(record: ConsumerRecord, reason: str, detail: str | None) -> list[tuple[str, bytes]]:
    return [("dlq.reason", reason.encode("utf-8")),
            ("dlq.detail", (detail or "").encode("utf-8")[:2000]),
            ("dlq.source.topic", record.topic.encode("utf-8")),
            ("dlq.source.partition", str(record.partition).encode("ascii")),
            ("dlq.source.offset", str(record.offset).encode("ascii"))]


def dead_letter(topic: str, record: ConsumerRecord, reason: str, detail: str | None) -> Message:
    """The original key, value and headers, plus ``dlq.*`` headers saying why and where from; falls back
    to the ``dlq.*`` headers alone (``dlq.truncated`` says what was left out and why)."""
    headers = list(record.headers or []) + _dlq_headers(record, reason, detail)
    key = record.key
    if key is None and record.value is None:  # Kafka clients refuse to send a record with neither
        key, headers = b"", headers + [("dlq.source.key", b"null")]

    def truncated(exc: Exception) -> Message:
        size = len(record.value or b"") + len(record.key or b"")
        note = f"original key and value ({size} bytes) and headers left out: {_error(exc)}"
        return Message(topic=topic, key=b"", value=None,
                       headers=_dlq_headers(record, reason, detail) + [("dlq.truncated", note.encode("utf-8"))])

    return Message(topic=topic, key=key, value=record.value, headers=headers, fallback=truncated)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def messages_for(record: ConsumerRecord, outcome: Outcome, alerts_topic: str, dlq_topic: str) -> list[Message]:
    if outcome.result is None:
        return [dead_letter(dlq_topic, record, outcome.reason or "unknown", outcome.detail)]
    if outcome.result.get("alert"):
        return [alert_message(alerts_topic, outcome.result, record, dlq_topic)]
    return []
