"""HTTP endpoints on the metrics port: ``/metrics`` (Prometheus), ``/healthz`` (liveness), ``/readyz``
(model loaded and broker connected) and ``/startupz`` (model loaded: for a startup probe that must not
depend on the broker)."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]


class HealthServer:
    """A small threaded HTTP server; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int, live: Check, ready: Check,
                 started: Check):
        routes = {"/metrics": None, "/healthz": live, "/readyz": ready, "/startupz": started}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path = self.path.split("?", 1)[0]
                if path not in routes:
                    return self._send(404, b"not found\n", "text/plain; charset=utf-8")
                check = routes[path]
                if check is None:
                    return self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                ok, why = check()
                self._send(200 if ok else 503, f"{'ok' if ok else 'not ok'}: {why}\n".encode(),
                           "text/plain; charset=utf-8")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args) -> None:
                log.debug("http: " + fmt, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "HealthServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
