"""Connection settings shared by every Kafka client the worker creates (consumer, producer, admin)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from worker.config import ConfigError, KafkaConfig


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


def check_tls(cfg: KafkaConfig, timeout_s: float = 5.0) -> None:
    """With SSL or SASL_SSL, a TLS handshake with each bootstrap server: an untrusted certificate is a
    configuration mistake (exit 2, one line) instead of endless silent reconnects. An unreachable server is
    left to the caller's retries."""
    if cfg.security_protocol not in ("SSL", "SASL_SSL"):
        return
    context = ssl.create_default_context(cafile=cfg.ssl_cafile)
    for server in client_settings(cfg)["bootstrap_servers"]:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
                with context.wrap_socket(sock, server_hostname=host):
                    pass
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(f"config error: kafka.ssl_cafile: the certificate of {server} is not trusted "
                              f"({exc.verify_message}); set kafka.ssl_cafile to the cluster's CA") from None
        except (OSError, ValueError):
            continue
