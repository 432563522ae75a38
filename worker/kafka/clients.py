"""The Kafka clients a worker uses, as factories it is given: kafka-python's by default; the worker-loop
unit tests give scripted fakes that follow the same small protocol (``Consumer`` below)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from kafka import TopicPartition

from worker.config import KafkaConfig
from worker.kafka.consumer import make_consumer
from worker.kafka.inflight import InflightLog
from worker.kafka.lag import CommittedOffsets
from worker.kafka.producer import make_producer
from worker.kafka.settings import client_settings


class Consumer(Protocol):
    """What the worker loop calls on its group consumer (kafka-python's ``KafkaConsumer`` has all of it)."""

    def subscribe(self, topics: list[str], listener: Any) -> None: ...
    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list]: ...
    def assignment(self) -> set[TopicPartition]: ...
    def pause(self, *partitions: TopicPartition) -> None: ...
    def resume(self, *partitions: TopicPartition) -> None: ...
    def paused(self) -> set[TopicPartition]: ...
    def commit(self, offsets: dict, timeout_ms: int) -> None: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    def topics(self) -> set[str]: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def metrics(self) -> dict: ...
    def close(self, autocommit: bool) -> None: ...


def committed_offsets(cfg: KafkaConfig) -> CommittedOffsets:
    return CommittedOffsets(client_settings(cfg), cfg.group_id)


@dataclass(frozen=True)
class KafkaClients:
    consumer: Callable[[KafkaConfig, int], Consumer] = make_consumer
    producer: Callable[[KafkaConfig], Any] = make_producer
    inflight: Callable[[KafkaConfig], InflightLog] = InflightLog
    committed: Callable[[KafkaConfig], CommittedOffsets | None] = committed_offsets
