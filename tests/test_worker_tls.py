"""TLS to the broker, end to end (issue #12): a certificate authority made in the test, a TLS endpoint in
front of the embedded broker (Tansu 0.6.0's own `--cert/--key` cannot be combined, so a small TLS proxy
terminates TLS and the broker advertises the proxy), the worker with ``security_protocol: SSL``. An untrusted
certificate is a one-line configuration error, not endless reconnects."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import seed_messages
from worker.app import Worker
from worker.broker import EmbeddedBroker, free_port
from worker.config import ConfigError, load_config
from worker.metrics import Metrics

pytestmark = pytest.mark.slow


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory, name: str):
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2",
             "-subj", f"/CN={name}")
    return key, crt


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca_key, ca_crt = make_ca(d, "test-ca")
    make_ca(d, "other-ca")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
             "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(ca_crt), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(d / "server.crt"), "-days", "2", "-extfile", str(d / "ext.cnf"))
    tls_port = free_port()
    broker = EmbeddedBroker(advertised=f"127.0.0.1:{tls_port}").start()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(d / "server.crt", d / "server.key")
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # refused handshakes are the point of one test

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(broker.host, broker.port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", tls_port, ssl=context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{tls_port}", d
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    broker.stop()


def _config(bootstrap: str, cafile, **extra):
    return load_config(None, env={}, overrides={
        "kafka.bootstrap_servers": bootstrap, "kafka.security_protocol": "SSL", "kafka.ssl_cafile": str(cafile),
        "kafka.input_topic": "tls-articles", "kafka.output_topic": "tls-alerts", "kafka.dead_letter_topic": "tls-dlq",
        "kafka.group_id": "tls-group", "kafka.session_timeout_ms": 3000, "kafka.heartbeat_interval_ms": 1000,
        "metrics.enabled": False, "batch.max_wait_ms": 200, **extra})


def test_the_worker_consumes_and_publishes_over_tls(tls_broker, classifier, seeds):
    bootstrap, d = tls_broker
    tls = {"security_protocol": "SSL", "ssl_cafile": str(d / "test-ca.crt")}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **tls)
    try:
        admin.create_topics([NewTopic(t, 1, 1) for t in ("tls-articles", "tls-alerts", "tls-dlq")])
    finally:
        admin.close()
    good = "002_alert_border_artillery"
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **tls)
    for key, value in seed_messages(seeds, [good]):
        producer.send("tls-articles", key=key, value=value).get(timeout=30)
    producer.close()
    worker = Worker(_config(bootstrap, d / "test-ca.crt"), Metrics(), classifier)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        reader = KafkaConsumer("tls-alerts", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                               consumer_timeout_ms=60_000, **tls)
        first = next(iter(reader))
        reader.close()
        assert first.key == seeds[good]["id"].encode()
    finally:
        worker.request_stop()
        thread.join(30)


def test_an_untrusted_broker_certificate_is_a_one_line_config_error(tls_broker, classifier):
    bootstrap, d = tls_broker
    worker = Worker(_config(bootstrap, d / "other-ca.crt"), Metrics(), classifier)
    with pytest.raises(ConfigError) as err:
        worker.run()
    message = str(err.value)
    assert "kafka.ssl_cafile" in message and "not trusted" in message and "\n" not in message
