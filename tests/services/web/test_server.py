"""The ``serve`` command: the real server on an ephemeral loopback port, with a fake API."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sample_web.server import make_server, serve

WEB_DIR = Path(__file__).resolve().parents[3] / "services" / "web"
STATIC_DIR = WEB_DIR / "static"
SCRIPT = next(STATIC_DIR.glob("app.*.js")).name
STYLESHEET = next(STATIC_DIR.glob("app.*.css")).name
TIMEOUT = 5.0
# The tests talk to 127.0.0.1 only: never through a proxy from the environment.
_CLIENT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, method: str = "GET") -> tuple[int, str, str]:
    """Return (status, content type, body) without raising on 4xx."""
    request = urllib.request.Request(url, method=method)
    try:
        with _CLIENT.open(request, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read().decode()


class FakeApi(ThreadingHTTPServer):
    """Stands in for the sample API: answers ``status`` (after ``delay`` s), records paths."""

    daemon_threads = True

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _FakeApiHandler)
        self.status = status
        self.delay = delay
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeApiHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, FakeApi)
        server.paths.append(self.path)
        time.sleep(server.delay)
        body = b'{"status":"ok"}'
        # After a delay the web server may have given up and hung up: that is the point.
        with contextlib.suppress(ConnectionError):
            self.send_response(server.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running(server: HTTPServer) -> Iterator[str]:
    """Serve in a thread; yield the base URL; shut down afterwards."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()


@contextmanager
def web(api_url: str, api_timeout: float = 2.0) -> Iterator[str]:
    server = make_server(
        "127.0.0.1", 0, api_url=api_url, static_dir=STATIC_DIR, api_timeout=api_timeout
    )
    with running(server) as base_url:
        yield base_url


def _closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    with running(api):
        yield api


@pytest.fixture(scope="module")
def base_url(fake_api: FakeApi) -> Iterator[str]:
    """One web server (talking to the healthy fake API) for the module's read-only requests."""
    with web(fake_api.url) as url:
        yield url


def test_page_renders_hashed_assets_and_api_status(base_url: str, fake_api: FakeApi) -> None:
    calls = len(fake_api.paths)
    status, content_type, body = _get(f"{base_url}/")
    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    assert body.startswith("<!DOCTYPE html>")
    assert f'<script src="/_next/static/{SCRIPT}" defer></script>' in body
    assert f'<link rel="stylesheet" href="/_next/static/{STYLESHEET}">' in body
    assert 'class="api-status ok">ok (HTTP 200)</span>' in body
    assert fake_api.paths[calls:] == ["/api/health"]


def test_page_ignores_query_string(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/?utm_source=test")
    assert status == 200
    assert "ok (HTTP 200)" in body


def test_page_shows_api_error_status() -> None:
    api = FakeApi(status=503)
    with running(api), web(api.url) as url:
        status, _, body = _get(f"{url}/")
    assert status == 200
    assert 'class="api-status down">error (HTTP 503)</span>' in body


def test_api_down_page_still_renders_unreachable() -> None:
    with web(f"http://127.0.0.1:{_closed_port()}") as url:
        status, content_type, body = _get(f"{url}/")
    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    assert 'class="api-status down">unreachable</span>' in body
    assert f"/_next/static/{SCRIPT}" in body


def test_slow_api_times_out_as_unreachable() -> None:
    api = FakeApi(delay=1.0)
    with running(api), web(api.url, api_timeout=0.2) as url:
        started = time.monotonic()
        status, _, body = _get(f"{url}/")
        elapsed = time.monotonic() - started
    assert status == 200
    assert ">unreachable</span>" in body
    assert elapsed < 1.0


def test_api_not_configured() -> None:
    with web("") as url:
        status, _, body = _get(f"{url}/")
    assert status == 200
    assert ">not configured</span>" in body


def test_healthz_is_ok_without_calling_the_api(base_url: str, fake_api: FakeApi) -> None:
    calls = len(fake_api.paths)
    status, content_type, body = _get(f"{base_url}/healthz")
    assert (status, content_type, body) == (200, "text/plain; charset=utf-8", "ok")
    assert len(fake_api.paths) == calls


def test_healthz_is_ok_when_the_api_is_down() -> None:
    with web(f"http://127.0.0.1:{_closed_port()}") as url:
        assert _get(f"{url}/healthz")[::2] == (200, "ok")


@pytest.mark.parametrize(
    "path",
    [
        "/_next/static/x",
        f"/_next/static/{SCRIPT}",
        f"/_next/static/{STYLESHEET}",
        f"/static/{SCRIPT}",
        "/api/health",
        "/healthz/extra",
        "/nope",
    ],
)
def test_other_paths_are_404(base_url: str, path: str) -> None:
    status, content_type, body = _get(f"{base_url}{path}")
    assert status == 404
    assert content_type == "text/plain; charset=utf-8"
    assert body == "Not Found"


def test_unsupported_method_is_an_error(base_url: str) -> None:
    status, _, _ = _get(f"{base_url}/", method="DELETE")
    assert status == 501


def test_head_has_no_body(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/healthz", method="HEAD")
    assert status == 200
    assert body == ""


def _readline(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
    assert ready, "no output from the server process in time"
    return proc.stdout.readline()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_renders_and_exits_0_on_sigterm(fake_api: FakeApi) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(WEB_DIR),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "API_URL": fake_api.url,
    }
    env.pop("STATIC_DIR", None)  # the default: services/web/static
    proc = subprocess.Popen(
        [sys.executable, "-m", "sample_web", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = _readline(proc)
        assert banner.startswith("sample-web listening on 127.0.0.1:")
        port = int(banner.split()[3].rsplit(":", 1)[1])

        status, _, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert f"/_next/static/{SCRIPT}" in body
        assert "ok (HTTP 200)" in body
        assert '"GET / HTTP/1.1" 200' in _readline(proc)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert proc.stdout is not None
        assert "stopped (SIGTERM)" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"PORT": "three-thousand"}, "PORT must be an integer"),
        ({"PORT": "0", "API_URL": "file:///etc/passwd"}, "API_URL must be an http(s) URL"),
        ({"PORT": "0", "API_URL": "api:8080"}, "API_URL must be an http(s) URL"),
        ({"PORT": "0", "STATIC_DIR": "/nonexistent/static"}, "static directory not found"),
    ],
)
def test_serve_refuses_bad_config(
    env: dict[str, str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve({"HOST": "127.0.0.1", **env}) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("serve: error: ")
    assert error in err
