"""Connection settings shared by every Kafka client the worker creates (consumer, producer, admin)."""

from __future__ import annotations

from typing import Any

from worker.config import KafkaConfig


def client_settings(cfg: KafkaConfig) -> dict[str, Any]:
    """kafka-python keyword arguments for bootstrap, security and timeouts."""
    settings: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in cfg.bootstrap_servers.split(",") if s.strip()],
        "client_id": cfg.client_id,
        "security_protocol": cfg.security_protocol,
        "request_timeout_ms": cfg.request_timeout_ms,
        # Fail fast on an unreachable cluster: callers retry with backoff instead of blocking 30 s.
        "bootstrap_timeout_ms": min(cfg.request_timeout_ms, 10_000),
    }
    if cfg.sasl_mechanism:
        settings.update(sasl_mechanism=cfg.sasl_mechanism, sasl_plain_username=cfg.sasl_username,
                        sasl_plain_password=cfg.sasl_password)
    if cfg.ssl_cafile:
        settings["ssl_cafile"] = cfg.ssl_cafile
    return settings
