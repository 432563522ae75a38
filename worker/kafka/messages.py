"""What the worker publishes for one input record: an alert, a dead letter, or nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kafka.consumer.fetcher import ConsumerRecord

from worker.processing import Outcome

DLQ_HEADERS = ("dlq.reason", "dlq.detail", "dlq.source.topic", "dlq.source.partition", "dlq.source.offset")


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def alert_message(topic: str, result: dict) -> Message:
    """The result JSON (UTF-8), keyed by article id."""
    return Message(
        topic=topic,
        key=result["article"]["id"].encode("utf-8"),
        value=json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        headers=[("content-type", b"application/json"), ("alert_id", result["alert_id"].encode("ascii")),
                 ("tension.level", result["tension"]["level"].encode("ascii"))])


def dead_letter(topic: str, record: ConsumerRecord, reason: str, detail: str | None) -> Message:
    """The original key, value and headers, plus ``dlq.*`` headers saying why and where from."""
    headers = list(record.headers or [])
    headers += [
        ("dlq.reason", reason.encode("utf-8")),
        ("dlq.detail", (detail or "").encode("utf-8")),
        ("dlq.source.topic", record.topic.encode("utf-8")),
        ("dlq.source.partition", str(record.partition).encode("ascii")),
        ("dlq.source.offset", str(record.offset).encode("ascii")),
    ]
    key = record.key
    if key is None and record.value is None:  # Kafka clients refuse to send a record with neither
        key, headers = b"", headers + [("dlq.source.key", b"null")]
    return Message(topic=topic, key=key, value=record.value, headers=headers)


def messages_for(record: ConsumerRecord, outcome: Outcome, alerts_topic: str, dlq_topic: str) -> list[Message]:
    if outcome.result is None:
        return [dead_letter(dlq_topic, record, outcome.reason or "unknown", outcome.detail)]
    if outcome.result.get("alert"):
        return [alert_message(alerts_topic, outcome.result)]
    return []
