"""Chaos run against the embedded broker: several workers, SIGKILLs and rolling restarts while they work.

Usage: python scripts/chaos.py [--articles 2000] [--workers 3] [--kills 5] [--broker-restarts 1] [--rolling 1]
                               [--interval 8]

Publishes ``--articles`` articles (the samples in seeds/ and generated long ones, each id unique) to a
3-partition input topic, starts ``--workers`` ``tension-worker run`` processes in one group, and every
``--interval`` seconds either SIGKILLs one worker and starts a new one, restarts the broker (halfway through
the kills; its storage is S3 on a local moto server, so topics, records and committed offsets survive), or
(at the end) restarts every worker in turn with SIGTERM. When the group has committed every record, it reads the alerts topic and
compares with the alerts expected (each distinct article classified once in-process: scores do not depend
on batching, so the expectation is exact). Prints one JSON object: kills, restarts, rebalances,
articles, expected alerts, lost, unexpected, duplicate alerts, duplicates whose alert_id differs, records
dead-lettered as poison pills (two kills on one record look like a record that crashes the process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from worker.benchmark.corpus import bench_articles
from worker.broker import EmbeddedBroker, free_port
from worker.seeds import encode

REPO = Path(__file__).resolve().parent.parent
PARTITIONS = 3


class Workers:
    """``tension-worker run`` processes of one group; each start gets its own log file."""

    def __init__(self, bootstrap: str, names: dict[str, str], folder: Path):
        self.folder, self.started, self.procs = folder, 0, []
        self.config = {"kafka": {"bootstrap_servers": bootstrap, "input_topic": names["in"],
                                 "output_topic": names["out"], "dead_letter_topic": names["dlq"],
                                 "group_id": names["group"], "session_timeout_ms": 3000,
                                 "heartbeat_interval_ms": 1000},
                       "batch": {"max_records": 8, "max_wait_ms": 200},
                       "logging": {"level": os.environ.get("CHAOS_LOG_LEVEL", "INFO")}}

    def start(self) -> subprocess.Popen:
        self.started += 1
        path = self.folder / f"worker-{self.started}.yaml"
        path.write_text(yaml.safe_dump({**self.config, "metrics": {"host": "127.0.0.1", "port": free_port()}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TENSION_WORKER__")}
        log = open(path.with_suffix(".log"), "wb")
        proc = subprocess.Popen([sys.executable, "-m", "worker", "run", "--config", str(path)], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def wait_assigned(self, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
        """Until the worker's log says it was assigned partitions (or ``timeout_s``)."""
        log = self.folder / f"worker-{self.procs.index(proc) + 1}.log"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and "partitions assigned: chaos" not in log.read_text(errors="replace"):
            time.sleep(0.2)

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def rebalances(self) -> int:
        return sum(p.read_text(errors="replace").count("partitions assigned") for p in self.folder.glob("*.log"))

    def stop_all(self) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def expected_alerts(articles: list[dict]) -> dict[str, bool]:
    """Whether each distinct article (by text) alerts, classified once in-process."""
    from worker.classifier.pipeline import load_classifier
    from worker.models.article import article_from_obj

    results = load_classifier().classify([article_from_obj(a, 200_000) for a in articles])
    return {a["text"]: r["alert"] for a, r in zip(articles, results)}


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        found = admin.list_group_offsets({group: [TopicPartition(topic, p) for p in range(PARTITIONS)]})
        return {tp.partition: om.offset for tp, om in found.get(group, {}).items() if om is not None}
    finally:
        admin.close()


def read_all(bootstrap: str, topic: str, quiet_s: float = 3.0) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    records, last = [], time.monotonic()
    while time.monotonic() - last < quiet_s:
        for batch in consumer.poll(timeout_ms=200).values():
            records += batch
            last = time.monotonic()
    consumer.close()
    return records


def run_chaos(bootstrap: str, count: int, workers: int, kills: int, rolling: int, interval: float,
              folder: Path, seed: int = 13, timeout_s: float = 1800, restart_broker=None,
              broker_restarts: int = 0) -> dict:
    """``restart_broker()``: stops and starts the broker (storage must persist), ``broker_restarts`` times."""
    rng = random.Random(seed)
    corpus = bench_articles(None, 48)
    alerting = expected_alerts(corpus)
    tag = uuid.uuid4().hex[:6]
    names = {"in": f"chaos-{tag}-in", "out": f"chaos-{tag}-out", "dlq": f"chaos-{tag}-dlq", "group": f"chaos-{tag}"}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(names["in"], PARTITIONS, 1), NewTopic(names["out"], 1, 1),
                         NewTopic(names["dlq"], 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    per_partition, expected = [0] * PARTITIONS, set()
    for k in range(count):
        article = {**corpus[k % len(corpus)], "id": f"chaos-{k:05d}"}
        producer.send(names["in"], key=article["id"].encode(), value=encode(article), partition=k % PARTITIONS)
        per_partition[k % PARTITIONS] += 1
        if alerting[article["text"]]:
            expected.add(article["id"])
    producer.flush()
    producer.close()
    group = Workers(bootstrap, names, folder)
    started = time.monotonic()
    for _ in range(workers):
        group.start()
    actions = ["kill"] * (kills // 2) + ["broker"] * broker_restarts + ["kill"] * (kills - kills // 2) + \
        ["rolling"] * rolling
    done_kills = done_restarts = done_broker = 0
    next_action = time.monotonic() + interval
    try:
        while True:
            try:
                offsets = committed(bootstrap, names["group"], names["in"])
            except KafkaError:  # the broker is restarting
                offsets = {}
            if all(offsets.get(p, 0) >= per_partition[p] for p in range(PARTITIONS)) and not actions:
                break
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"not done in {timeout_s} s: committed {offsets}, produced {per_partition}")
            if actions and time.monotonic() >= next_action:
                action = actions.pop(0)
                if action == "kill":
                    victim = rng.choice(group.alive())
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    done_kills += 1
                    group.start()
                elif action == "broker":
                    restart_broker()
                    done_broker += 1
                else:
                    for proc in group.alive():  # one at a time, the next once its replacement has partitions
                        proc.send_signal(signal.SIGTERM)
                        proc.wait(60)
                        group.wait_assigned(group.start())
                        done_restarts += 1
                next_action = time.monotonic() + interval
            time.sleep(0.5)
    except BaseException:  # a timeout or a failed restart: leave no worker running
        group.stop_all()
        raise
    seconds = time.monotonic() - started
    group.stop_all()
    alerts = [json.loads(r.value) for r in read_all(bootstrap, names["out"])]
    ids: dict[str, set[str]] = {}
    for alert in alerts:
        ids.setdefault(alert["article"]["id"], set()).add(alert["alert_id"])
    dead = read_all(bootstrap, names["dlq"], quiet_s=1.0)
    # a record in flight alone when a second kill hits it is, like a record that crashes the process twice,
    # dead-lettered as a poison pill: a decision (with its reason), not a loss; each one takes two kills
    pills = {json.loads(r.value)["id"] for r in dead if dict(r.headers).get("dlq.reason") == b"poison_pill"}
    return {"articles": count, "workers": workers, "kills": done_kills, "restarts": done_restarts,
            "broker_restarts": done_broker,
            "rebalances": group.rebalances(), "seconds": round(seconds, 1), "expected_alerts": len(expected),
            "alerts": len(alerts), "lost": len(expected - set(ids) - pills), "unexpected": len(set(ids) - expected),
            "duplicate_alerts": len(alerts) - len(ids),
            "duplicates_with_another_alert_id": sum(len(v) > 1 for v in ids.values()),
            "poison_pills": len(pills), "poison_pills_alerted_too": len(pills & set(ids)),
            "dead_letters": len(dead) - len(pills)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--broker-restarts", type=int, default=1, help="needs moto[server] (the dev extras)")
    ap.add_argument("--rolling", type=int, default=1)
    ap.add_argument("--interval", type=float, default=8.0)
    ap.add_argument("--logs", help="keep the workers' configs and logs in this folder")
    args = ap.parse_args()
    folder = Path(args.logs or tempfile.mkdtemp(prefix="chaos-"))
    folder.mkdir(parents=True, exist_ok=True)
    with persistent_broker(folder) if args.broker_restarts else EmbeddedBroker() as broker:
        print(json.dumps(run_chaos(broker.bootstrap_servers, args.articles, args.workers, args.kills, args.rolling,
                                   args.interval, folder, restart_broker=lambda: restart(broker),
                                   broker_restarts=args.broker_restarts)))


@contextlib.contextmanager
def persistent_broker(folder: Path):
    """The embedded broker with S3 storage on a local moto server (records and offsets survive a restart)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    aws = {"AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": "chaos", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true"}
    boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT"], aws_access_key_id="chaos", aws_secret_access_key="chaos",
                 region_name="us-east-1").create_bucket(Bucket="tansu")
    try:
        with EmbeddedBroker(storage_engine="s3://tansu/", env=aws, log_path=str(folder / "tansu.log")) as broker:
            yield broker
    finally:
        s3.stop()


def restart(broker: EmbeddedBroker, down_s: float = 2.0) -> None:
    broker.stop()
    time.sleep(down_s)
    broker.start()


if __name__ == "__main__":
    main()
