"""The command line as a user meets it: help, version, config errors (exit 2, one line, no traceback),
and ``tension-worker broker`` serving a real Kafka client."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import cli
from worker import __version__
from worker.broker import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [[], ["run"], ["demo"], ["broker"]])
def test_help_and_version(command):
    help_ = cli(*command, "--help")
    assert help_.returncode == 0 and "usage: tension-worker" in help_.stdout
    version = cli(*command, "--version") if not command else cli("--version")
    assert version.returncode == 0 and __version__ in version.stdout


def test_run_help_lists_its_flags():
    out = cli("run", "--help").stdout
    for flag in ("--config", "--bootstrap-servers", "--log-format", "--log-level"):
        assert flag in out


@pytest.mark.parametrize("content, env, message", [
    (None, {}, "cannot read"),
    ("kafka:\n  topic: x\n", {}, "kafka.topic: unknown key"),
    ("batch:\n  max_records: lots\n", {}, "batch.max_records"),
    ("kafka: {bootstrap_servers: [\n", {}, "not valid YAML"),
    ("{}\n", {"TENSION_WORKER__METRICS__PORT": "http"}, "metrics.port"),
])
def test_config_errors_exit_2_with_one_line(tmp_path, content, env, message):
    path = tmp_path / "worker.yaml"
    if content is not None:
        path.write_text(content)
    result = cli("run", "--config", str(path), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("tension-worker: config error")
    assert "Traceback" not in result.stderr


def test_demo_without_seeds_exits_2(tmp_path):
    result = cli("demo", "--seeds", str(tmp_path / "nowhere"), "--metrics-port", "0")
    assert result.returncode == 2 and "seeds folder not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_broker_command_serves_kafka_clients():
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "worker", "broker", "--port", str(port)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert re.search(rf"127\.0\.0\.1:{port}\b", line), line
        bootstrap, topic = f"127.0.0.1:{port}", f"t-{uuid.uuid4().hex[:6]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # auto-created topics are not fetchable on Tansu
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce(topic, key=b"k", value=b"hello")
        assert producer.flush(15) == 0
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g", "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        msg = None
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                break
        consumer.close()
        assert msg is not None and msg.value() == b"hello"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
