"""Tests for ``python -m release_tools.smoke`` against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from release_tools import smoke


@dataclass
class Script:
    """What the server answers: one status per request, the last one repeating."""

    statuses: list[int | str] = field(default_factory=lambda: [200])
    requests: int = 0
    user_agents: list[str] = field(default_factory=list)

    def next_status(self) -> int | str:
        status = self.statuses[min(self.requests, len(self.statuses) - 1)]
        self.requests += 1
        return status


class Handler(BaseHTTPRequestHandler):
    script: Script  # set on a per-test subclass

    def do_GET(self) -> None:
        self.script.user_agents.append(self.headers.get("User-Agent", ""))
        status = self.script.next_status()
        if status == "reset":  # close without answering
            self.close_connection = True
            return
        if status == "slow":
            time.sleep(0.3)
            status = 200
        body = b"ok\n"
        self.send_response(int(status))
        if 300 <= int(status) < 400:
            self.send_header("Location", "https://other.example.com/login")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have given up (timeout test)
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class Server:
    url: str
    script: Script


@contextlib.contextmanager
def serve() -> Iterator[Server]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}/api/health", script)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as started:
        yield started


@pytest.fixture
def second_server() -> Iterator[Server]:
    """Another server with its own script, for tests with several URLs."""
    with serve() as started:
        yield started


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def run(url: str, sleeps: Sleeps, *args: str) -> int:
    return smoke.main(["--url", url, *args], sleep=sleeps, opener=smoke.build_opener(proxies={}))


def run_urls(urls: list[str], sleeps: Sleeps, *args: str) -> int:
    url_args = [arg for url in urls for arg in ("--url", url)]
    return smoke.main([*url_args, *args], sleep=sleeps, opener=smoke.build_opener(proxies={}))


def test_200_first_time(server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(server.url, sleeps) == 0

    assert server.script.requests == 1
    assert server.script.user_agents == ["platform-smoke-test"]
    assert sleeps == []
    assert capsys.readouterr().out == f"attempt 1/10: {server.url} -> HTTP 200 OK\n"


def test_503_then_200_retries(
    server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script.statuses = [503, 503, 200]

    assert run(server.url, sleeps, "--interval", "7") == 0

    assert server.script.requests == 3
    assert sleeps == [7, 7]
    assert capsys.readouterr().out.splitlines() == [
        f"attempt 1/10: {server.url} -> HTTP 503 Service Unavailable",
        f"attempt 2/10: {server.url} -> HTTP 503 Service Unavailable",
        f"attempt 3/10: {server.url} -> HTTP 200 OK",
    ]


def test_always_500_exits_1_after_all_attempts(
    server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script.statuses = [500]

    assert run(server.url, sleeps, "--attempts", "4") == 1

    assert server.script.requests == 4
    assert sleeps == [15, 15, 15]
    assert capsys.readouterr().err == (
        f"smoke test failed: no 2xx from {server.url} in 4 attempt(s); "
        "last: HTTP 500 Internal Server Error\n"
    )


def test_redirect_is_not_followed_and_fails_at_once(
    server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script.statuses = [302]

    assert run(server.url, sleeps) == 1

    assert server.script.requests == 1
    assert sleeps == []
    assert capsys.readouterr().err == (
        f"smoke test failed: {server.url}: HTTP 302 Found, redirect to "
        "https://other.example.com/login not followed: a health check must not redirect\n"
    )


def test_reset_connection_then_200(server: Server, sleeps: Sleeps) -> None:
    server.script.statuses = ["reset", 204]

    assert run(server.url, sleeps, "--interval", "1") == 0

    assert server.script.requests == 2
    assert sleeps == [1]


def test_read_timeout_is_retried(
    server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script.statuses = ["slow", 200]

    assert run(server.url, sleeps, "--timeout", "0.05") == 0

    assert sleeps == [15]
    assert "attempt 1/10" in capsys.readouterr().out


def test_connection_refused_exits_1(sleeps: Sleeps, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert run(f"http://127.0.0.1:{port}/", sleeps, "--attempts", "2", "--interval", "3") == 1

    assert sleeps == [3]
    assert "Connection refused" in capsys.readouterr().err


def test_default_opener_works(
    server: Server, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    assert smoke.main(["--url", server.url], sleep=sleeps) == 0
    assert server.script.requests == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--url", "ftp://example.com/health"],
        ["--url", "https:///health"],
        ["--url", "example.com/health"],
        ["--url", "http://127.0.0.1/", "--attempts", "0"],
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smoke.main(args, sleep=sleeps) == 2
    assert sleeps == []
    assert capsys.readouterr().err.startswith("smoke test not started: ")


# --- several URLs -------------------------------------------------------------------------


def test_two_urls_both_ok(
    server: Server, second_server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_urls([server.url, second_server.url], sleeps) == 0

    assert server.script.requests == 1
    assert second_server.script.requests == 1
    assert sleeps == []
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"attempt 1/10: {server.url} -> HTTP 200 OK",
        f"attempt 1/10: {second_server.url} -> HTTP 200 OK",
    ]


def test_two_urls_second_fails_exits_1(
    server: Server, second_server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    second_server.script.statuses = [500]

    assert run_urls([server.url, second_server.url], sleeps, "--attempts", "3") == 1

    assert server.script.requests == 1
    assert second_server.script.requests == 3
    assert sleeps == [15, 15]
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"attempt 1/3: {server.url} -> HTTP 200 OK",
        f"attempt 1/3: {second_server.url} -> HTTP 500 Internal Server Error",
        f"attempt 2/3: {second_server.url} -> HTTP 500 Internal Server Error",
        f"attempt 3/3: {second_server.url} -> HTTP 500 Internal Server Error",
    ]
    assert captured.err == (
        f"smoke test failed: no 2xx from {second_server.url} in 3 attempt(s); "
        "last: HTTP 500 Internal Server Error\n"
    )


def test_each_url_gets_its_own_attempts(
    server: Server, second_server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script.statuses = [503, 503, 200]
    second_server.script.statuses = [503, 503, 200]

    assert run_urls([server.url, second_server.url], sleeps, "--attempts", "3") == 0

    assert server.script.requests == 3
    assert second_server.script.requests == 3
    assert sleeps == [15, 15, 15, 15]
    assert capsys.readouterr().out.splitlines()[2:4] == [
        f"attempt 3/3: {server.url} -> HTTP 200 OK",
        f"attempt 1/3: {second_server.url} -> HTTP 503 Service Unavailable",
    ]


def test_first_url_fails_the_rest_are_not_requested(
    server: Server, second_server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script.statuses = [302]

    assert run_urls([server.url, second_server.url], sleeps) == 1

    assert server.script.requests == 1
    assert second_server.script.requests == 0
    assert capsys.readouterr().err.startswith(f"smoke test failed: {server.url}: HTTP 302")


def test_repeated_url_is_checked_once(server: Server, sleeps: Sleeps) -> None:
    assert run_urls([server.url, server.url], sleeps) == 0
    assert server.script.requests == 1


def test_one_bad_url_among_several_exits_2_before_any_request(
    server: Server, sleeps: Sleeps, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_urls([server.url, "ftp://example.com/health"], sleeps) == 2

    assert server.script.requests == 0
    assert capsys.readouterr().err == (
        "smoke test not started: not an http(s) URL with a host: 'ftp://example.com/health'\n"
    )
