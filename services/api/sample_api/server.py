"""The ``serve`` command: a small JSON API on the stdlib ``http.server``."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from sample_api import SERVICE_NAME

DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - in a container the server must listen on all interfaces
DEFAULT_PORT = 8080
DEFAULT_VERSION = "dev"


class SampleApiServer(ThreadingHTTPServer):
    """Threaded HTTP server that knows the version it reports on ``GET /``."""

    # Non-daemon request threads, joined by server_close(): a stopping task finishes the
    # requests it has already accepted. Handler.timeout bounds how long that can take.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], version: str) -> None:
        super().__init__(address, Handler)
        self.version = version

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    """Routes: ``GET /api/health``, ``GET /``; everything else is a JSON 404."""

    server_version = SERVICE_NAME
    sys_version = ""
    timeout = 10  # seconds a client may take to send its request

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/api/health":
            # Liveness only: this must never touch the database. The load balancer and ECS
            # use it to decide whether the task is healthy; if it failed during a database
            # outage, ECS would kill and replace every healthy task, turning a DB blip into a
            # full service outage.
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/":
            self._send_json(HTTPStatus.OK, {"service": SERVICE_NAME, "version": self._version()})
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def do_HEAD(self) -> None:
        self.do_GET()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer errors (404, and the 400/501 raised by the base class) with JSON too."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.close_connection = True
        self._send_json(code, {"error": message or phrase})

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request, to stdout (the container log), not stderr."""
        sys.stdout.write(f"{self.address_string()} - {format % args}\n")
        sys.stdout.flush()

    def _version(self) -> str:
        server = self.server
        return server.version if isinstance(server, SampleApiServer) else DEFAULT_VERSION

    def _send_json(self, status: int, body: Mapping[str, object]) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def make_server(host: str, port: int, version: str = DEFAULT_VERSION) -> SampleApiServer:
    """Bind a server (port 0 picks a free port); the caller runs ``serve_forever``."""
    return SampleApiServer((host, port), version)


def serve(environ: Mapping[str, str] | None = None) -> int:
    """Serve on ``$HOST:$PORT`` until SIGTERM/SIGINT, then shut down and return 0."""
    env = os.environ if environ is None else environ
    host = env.get("HOST", DEFAULT_HOST)
    try:
        port = int(env.get("PORT", str(DEFAULT_PORT)))
    except ValueError:
        print(f"serve: error: PORT must be an integer, got {env['PORT']!r}", file=sys.stderr)
        return 1
    try:
        server = make_server(host, port, env.get("APP_VERSION", DEFAULT_VERSION))
    except OSError as exc:
        print(f"serve: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1

    received: list[str] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        # ECS stops a task with SIGTERM (SIGKILL after stopTimeout). shutdown() blocks until
        # serve_forever() returns, so it must run outside this handler's (main) thread.
        # No I/O here: print() is not safe to re-enter from a signal handler.
        received.append(signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"{SERVICE_NAME} listening on {host}:{server.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    print(f"stopped ({', '.join(received) or 'shutdown'})", flush=True)
    return 0
