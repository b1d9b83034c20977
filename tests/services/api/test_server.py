"""The ``serve`` command: the real server on an ephemeral port, and SIGTERM handling."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sample_api.server import make_server, serve

APP_DIR = Path(__file__).resolve().parents[3] / "services" / "api"
TIMEOUT = 2.0


def _get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    """Return (status, content type, body) without raising on 4xx."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """One server for the module's read-only requests (a server per test costs a shutdown
    poll each)."""
    server = make_server("127.0.0.1", 0, version="1.2.3")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()


def _json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def test_health_is_ok(base_url: str) -> None:
    status, content_type, body = _get(f"{base_url}/api/health")
    assert status == 200
    assert content_type == "application/json"
    assert _json(body) == {"status": "ok"}


def test_health_ignores_query_string(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/api/health?probe=alb")
    assert status == 200
    assert _json(body) == {"status": "ok"}


def test_root_reports_service_and_version(base_url: str) -> None:
    status, content_type, body = _get(f"{base_url}/")
    assert status == 200
    assert content_type == "application/json"
    assert _json(body) == {"service": "sample-api", "version": "1.2.3"}


@pytest.mark.parametrize("path", ["/nope", "/api", "/api/health/extra"])
def test_unknown_path_is_json_404(base_url: str, path: str) -> None:
    status, content_type, body = _get(f"{base_url}{path}")
    assert status == 404
    assert content_type == "application/json"
    assert _json(body) == {"error": "Not Found"}


def test_unsupported_method_is_json_error(base_url: str) -> None:
    status, content_type, body = _get(f"{base_url}/api/health", method="DELETE")
    assert status == 501
    assert content_type == "application/json"
    assert "error" in _json(body)


def test_head_has_no_body(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/api/health", method="HEAD")
    assert status == 200
    assert body == b""


def _readline(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
    assert ready, "no output from the server process in time"
    return proc.stdout.readline()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_logs_requests_and_exits_0_on_sigterm() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(APP_DIR),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "APP_VERSION": "abc123",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sample_api", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = _readline(proc)
        assert banner.startswith("sample-api listening on 127.0.0.1:")
        port = int(banner.rsplit(":", 1)[1])

        status, _, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert _json(body) == {"service": "sample-api", "version": "abc123"}
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


def test_serve_rejects_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve({"PORT": "eighty"}) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "PORT must be an integer" in err
