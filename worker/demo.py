"""``tension-worker demo`` (embedded broker + worker on seeds/) and ``tension-worker broker``."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from worker.app import Worker
from worker.run import start_health
from worker.broker import BrokerUnavailable, EmbeddedBroker
from worker.config import Config, load_config
from worker.logs import setup_logging
from worker.metrics import Metrics
from worker.seeds import encode, find_seeds, load_seeds

OUTCOMES = ("alert", "no_alert", "dead_letter")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _start_broker(port: int | None) -> EmbeddedBroker | None:
    try:
        return EmbeddedBroker(port=port or None).start()
    except BrokerUnavailable as exc:
        print(f"tension-worker: cannot start the embedded broker: {exc}", file=sys.stderr)
        return None


def create_topics(bootstrap: str, cfg: Config, input_partitions: int = 3) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(cfg.kafka.input_topic, input_partitions, 1),
                             NewTopic(cfg.kafka.output_topic, 1, 1),
                             NewTopic(cfg.kafka.dead_letter_topic, 1, 1)])
    finally:
        admin.close()


def format_alert(result: dict) -> str:
    """A result as a few readable lines."""
    art, tension = result["article"], result["tension"]
    lines = [f"ALERT {tension['level'].upper()} (score {tension['score']:.2f})  {art.get('title') or art['id']}",
             f"  article {art['id']}  {art.get('source') or ''}  {art.get('url') or ''}".rstrip(),
             f"  actors: {', '.join(result['actors']) or '-'}"]
    for s in result["signals"]:
        actors = f" [{', '.join(s['actors'])}]" if s.get("actors") else ""
        lines.append(f"  - {s['type']:<9} {s['modality']:<12} {s['score']:.2f}{actors}  \"{s['evidence']}\"")
    return "\n".join(lines)


def _processed(metrics: Metrics) -> int:
    get = metrics.registry.get_sample_value
    return int(sum(get("tension_worker_articles_processed_total", {"outcome": o}) or 0 for o in OUTCOMES))


def _read_alerts(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list[dict]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=int(timeout_s * 1000))
    alerts: list[dict] = []
    try:
        for record in consumer:
            alerts.append(json.loads(record.value))
            if len(alerts) >= expected:
                break
    finally:
        consumer.close()
    return alerts


def main_demo(args) -> int:
    folder = find_seeds(args.seeds)
    seeds = load_seeds(folder)
    overrides = {"metrics.port": args.metrics_port, "kafka.session_timeout_ms": 3000,
                 "kafka.heartbeat_interval_ms": 1000}
    if not args.config:
        overrides["metrics.host"] = "127.0.0.1"
    cfg = load_config(args.config, overrides={**overrides, "kafka.bootstrap_servers": "127.0.0.1:0"})
    setup_logging(args.log_level or "WARNING", args.log_format or cfg.logging.format)
    stop = _stop_on_signals()
    broker = _start_broker(args.port)
    if broker is None:
        return 1
    worker_thread = None
    try:
        cfg = load_config(args.config, overrides={**overrides, "kafka.bootstrap_servers": broker.bootstrap_servers})
        create_topics(broker.bootstrap_servers, cfg)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        for _, article in seeds:
            producer.send(cfg.kafka.input_topic, key=article["id"].encode("utf-8"), value=encode(article))
        producer.flush()
        producer.close()
        print(f"broker {broker.bootstrap_servers}: published {len(seeds)} articles from {folder} "
              f"to {cfg.kafka.input_topic}; loading the model ...", flush=True)

        from worker.classifier.pipeline import load_classifier
        metrics = Metrics()
        worker = Worker(cfg, metrics)
        server = start_health(cfg, metrics, worker)
        metrics_url = f"http://127.0.0.1:{server.port}/metrics" if server else "(metrics disabled)"
        worker.set_classifier(load_classifier(cfg.model))
        worker_thread = threading.Thread(target=worker.run, name="worker", daemon=True)
        worker_thread.start()
        while _processed(metrics) < len(seeds) and not stop.is_set() and worker_thread.is_alive():
            time.sleep(0.2)
        if _processed(metrics) < len(seeds):
            print("tension-worker: demo interrupted before all articles were processed", file=sys.stderr)
            return 1 if not stop.is_set() else 130
        n_alerts = int(sum((metrics.registry.get_sample_value("tension_worker_alerts_total", {"level": lvl}) or 0)
                           for lvl in ("none", "low", "elevated", "high")))
        for result in _read_alerts(broker.bootstrap_servers, cfg.kafka.output_topic, n_alerts):
            print(format_alert(result) + "\n", flush=True)
        dead = int(metrics.registry.get_sample_value("tension_worker_articles_processed_total",
                                                     {"outcome": "dead_letter"}) or 0)
        print(f"summary: {len(seeds)} articles, {n_alerts} alerts, {dead} dead letters; metrics {metrics_url}",
              flush=True)
        if args.keep_running:
            print(f"keep running: bootstrap {broker.bootstrap_servers} (topic {cfg.kafka.input_topic}), "
                  f"metrics {metrics_url}; Ctrl-C to stop", flush=True)
            while not stop.wait(0.5) and worker_thread.is_alive():
                pass
        worker.request_stop()
        worker_thread.join(30)
        if server:
            server.stop()
        return 0
    finally:
        broker.stop()


def main_broker(args) -> int:
    setup_logging(args.log_level or "INFO", args.log_format or "text")
    stop = _stop_on_signals()
    broker = _start_broker(args.port)
    if broker is None:
        return 1
    try:
        print(f"Kafka-protocol broker (Tansu, in-memory storage) on {broker.bootstrap_servers}; "
              "Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            if broker.process is None or broker.process.poll() is not None:
                print("tension-worker: the broker exited unexpectedly", file=sys.stderr)
                return 1
        return 0
    finally:
        broker.stop()
