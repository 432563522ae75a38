"""``tension-worker run``: configuration, logging, signals and the health server around ``Worker``."""

from __future__ import annotations

import logging
import os
import signal
import time

from worker.app import Worker
from worker.config import Config, ConfigError, load_config
from worker.health import HealthServer
from worker.logs import setup_logging
from worker.metrics import Metrics

log = logging.getLogger(__name__)


def install_signal_handlers(stop) -> None:
    """The first SIGTERM/SIGINT calls ``stop()`` (the batch in flight finishes and is committed); a second
    one exits at once with code 1, committing nothing (those records are redelivered)."""
    received: list[int] = []

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if received:
            log.warning("%s received again: exiting now without committing; uncommitted records will be "
                        "redelivered", name)
            logging.shutdown()
            os._exit(1)
        received.append(signum)
        log.info("%s received: finishing the batch in flight, then committing and closing", name)
        stop()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def start_health(cfg: Config, metrics: Metrics, worker: Worker) -> HealthServer | None:
    if not cfg.metrics.enabled:
        return None
    try:
        server = HealthServer(metrics.registry, cfg.metrics.host, cfg.metrics.port, worker.live, worker.ready,
                              worker.started)
    except OSError as exc:
        raise ConfigError(f"config error: metrics.port: cannot listen on {cfg.metrics.host}:{cfg.metrics.port}: "
                          f"{exc.strerror}") from None
    server.start()
    log.info("metrics and health on http://%s:%d (/metrics, /healthz, /readyz)",
             cfg.metrics.host, server.port, extra={"metrics_port": server.port})
    return server


def main_run(args) -> int:
    """``tension-worker run``: returns the process exit code."""
    overrides = {"kafka.bootstrap_servers": args.bootstrap_servers} if args.bootstrap_servers else {}
    cfg = load_config(args.config, overrides=overrides)
    setup_logging(args.log_level or cfg.logging.level, args.log_format or cfg.logging.format)
    metrics = Metrics()
    worker = Worker(cfg, metrics)
    install_signal_handlers(worker.request_stop)
    server = start_health(cfg, metrics, worker)
    try:
        from worker.classifier.pipeline import load_classifier

        started = time.perf_counter()
        classifier = load_classifier(cfg.model)
        log.info("model %s %s loaded in %.1f s", classifier.name, classifier.version,
                 time.perf_counter() - started)
        worker.set_classifier(classifier)
        code = worker.run()
        log.info("stopped (exit code %d)", code)
        return code
    finally:
        if server is not None:
            server.stop()
