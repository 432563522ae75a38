"""Prometheus metrics of the worker (all names start with ``tension_worker_``).

One ``Metrics`` object owns its own registry, so several workers (or tests) in one process never
collide. ``METRIC_NAMES`` is what the deploy rules and dashboard may refer to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
INFERENCE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class BatchStats:
    """What one micro-batch did (for the batch log line)."""
    records: int = 0
    alerts: int = 0
    no_alert: int = 0
    dead_letters: int = 0
    inference_s: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


class Metrics:
    """The worker's metric families, registered in ``self.registry``."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ... (Linux)
        self.records_consumed = Counter(
            "tension_worker_records_consumed", "Kafka records consumed from the input topic.",
            ["topic"], registry=r)
        self.articles_processed = Counter(
            "tension_worker_articles_processed", "Articles processed, by outcome (alert, no_alert, dead_letter).",
            ["outcome"], registry=r)
        self.dead_letters = Counter(
            "tension_worker_dead_letters", "Records sent to the dead-letter topic, by reason.",
            ["reason"], registry=r)
        self.alerts = Counter(
            "tension_worker_alerts", "Alerts published, by tension level.", ["level"], registry=r)
        self.signals = Counter(
            "tension_worker_signals", "Signals found in alerted and non-alerted articles, by type.",
            ["type"], registry=r)
        self.batch_inference = Histogram(
            "tension_worker_batch_inference_seconds", "Wall time to classify one micro-batch.",
            buckets=INFERENCE_BUCKETS, registry=r)
        self.end_to_end_latency = Histogram(
            "tension_worker_end_to_end_latency_seconds",
            "Time from the input record's timestamp to its result being acknowledged.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram(
            "tension_worker_batch_size", "Records per micro-batch.", buckets=BATCH_BUCKETS, registry=r)
        self.consumer_lag = Gauge(
            "tension_worker_consumer_lag", "Records behind the partition's high watermark (highwater - committed).",
            ["topic", "partition"], registry=r)
        self.model_info = Info("tension_worker_model", "The loaded classifier model.", registry=r)
        self.last_loop = Gauge(
            "tension_worker_last_loop_timestamp_seconds", "Unix time the main loop last completed an iteration.",
            registry=r)
        self.last_success = Gauge(
            "tension_worker_last_success_timestamp_seconds",
            "Unix time a batch was last processed and committed.", registry=r)
        self.broker_errors = Counter(
            "tension_worker_broker_errors", "Broker operations that failed and were retried, by operation.",
            ["operation"], registry=r)
        self.ready = Gauge(
            "tension_worker_ready", "1 when the model is loaded and the broker is reachable.", registry=r)
        self.assigned_partitions = Gauge(
            "tension_worker_assigned_partitions", "Input partitions assigned to this worker.", registry=r)

    def mark_loop(self) -> None:
        self.last_loop.set(time.time())

    def count_batch(self, outcomes, timestamps_ms: list[int | None], inference_s: float) -> BatchStats:
        """Count a published batch: ``outcomes`` (``Processor`` outcomes) and the input records' timestamps."""
        now = time.time()
        stats = BatchStats(records=len(outcomes), inference_s=inference_s)
        for outcome, timestamp_ms in zip(outcomes, timestamps_ms):
            if outcome.result is None:
                stats.dead_letters += 1
                stats.reasons[outcome.reason] = stats.reasons.get(outcome.reason, 0) + 1
                self.dead_letters.labels(outcome.reason).inc()
                self.articles_processed.labels("dead_letter").inc()
            else:
                result = outcome.result
                for signal_ in result.get("signals", []):
                    self.signals.labels(signal_["type"]).inc()
                if result.get("alert"):
                    stats.alerts += 1
                    self.alerts.labels(result["tension"]["level"]).inc()
                    self.articles_processed.labels("alert").inc()
                else:
                    stats.no_alert += 1
                    self.articles_processed.labels("no_alert").inc()
            if timestamp_ms and timestamp_ms > 0:
                self.end_to_end_latency.observe(max(0.0, now - timestamp_ms / 1000))
        self.batch_inference.observe(inference_s)
        self.batch_size.observe(len(outcomes))
        return stats


# Families as exposed (counters gain _total, histograms _bucket/_sum/_count, Info _info).
METRIC_NAMES = frozenset({
    "tension_worker_records_consumed_total",
    "tension_worker_articles_processed_total",
    "tension_worker_dead_letters_total",
    "tension_worker_alerts_total",
    "tension_worker_signals_total",
    "tension_worker_batch_inference_seconds",
    "tension_worker_end_to_end_latency_seconds",
    "tension_worker_batch_size",
    "tension_worker_consumer_lag",
    "tension_worker_model_info",
    "tension_worker_last_loop_timestamp_seconds",
    "tension_worker_last_success_timestamp_seconds",
    "tension_worker_broker_errors_total",
    "tension_worker_ready",
    "tension_worker_assigned_partitions",
})
