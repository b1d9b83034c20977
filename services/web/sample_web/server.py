"""The ``serve`` command: server-side rendering on the stdlib ``http.server``.

Routes: ``GET /`` renders the page (after asking the API for its health, server-side);
``GET /healthz`` is the load balancer's health check and never calls the API; anything else,
including ``/_next/static/...``, is a 404: CloudFront serves the static files from S3.
"""

from __future__ import annotations

import html
import http.client
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

from sample_web import SERVICE_NAME
from sample_web.assets import DEFAULT_STATIC_DIR, AssetError, Assets, load_assets

DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - in a container the server must listen on all interfaces
DEFAULT_PORT = 3000
API_HEALTH_PATH = "/api/health"
API_TIMEOUT_SECONDS = 2.0


class ConfigError(Exception):
    """Invalid environment/configuration, reported as one line."""


@dataclass(frozen=True)
class ApiStatus:
    """What the API's health check answered, as shown on the page."""

    state: str  # "ok", "error", "unreachable" or "not configured"
    code: int | None = None

    @property
    def text(self) -> str:
        return f"{self.state} (HTTP {self.code})" if self.code is not None else self.state


def parse_api_url(raw: str) -> str:
    """``API_URL`` without a trailing slash; "" when unset. Only http(s) URLs are accepted."""
    url = raw.strip().rstrip("/")
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"API_URL must be an http(s) URL such as http://api:8080, got {raw!r}")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The health check must answer itself: a redirect is reported as its 3xx status."""

    def redirect_request(  # noqa: PLR0917 - the overridden method's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


# No proxies (the API is an internal address, whatever HTTP_PROXY says) and no redirects.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def check_api(api_url: str, timeout: float = API_TIMEOUT_SECONDS) -> ApiStatus:
    """GET ``{api_url}/api/health``; never raises, whatever the API does."""
    if not api_url:
        return ApiStatus("not configured")
    request = urllib.request.Request(  # noqa: S310 - scheme checked by parse_api_url
        api_url + API_HEALTH_PATH, headers={"Accept": "application/json"}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return ApiStatus("ok" if response.status == HTTPStatus.OK else "error", response.status)
    except urllib.error.HTTPError as err:
        err.close()
        return ApiStatus("error", err.code)
    except (OSError, http.client.HTTPException, ValueError):
        # Refused, timed out, unresolvable, reset, or not speaking HTTP: the page still renders.
        return ApiStatus("unreachable")


def render_page(assets: Assets, api: ApiStatus) -> str:
    css_class = "ok" if api.state == "ok" else "down"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{SERVICE_NAME}</title>
<link rel="stylesheet" href="{html.escape(assets.stylesheet_url)}">
<script src="{html.escape(assets.script_url)}" defer></script>
</head>
<body>
<main>
<h1>Sample web front end</h1>
<p>API: <span id="api-status" class="api-status {css_class}">{html.escape(api.text)}</span></p>
<p id="client-status">static assets not loaded</p>
</main>
</body>
</html>
"""


class SampleWebServer(ThreadingHTTPServer):
    """Threaded HTTP server that knows its static files and where the API is."""

    # Non-daemon request threads, joined by server_close(): a stopping task finishes the
    # requests it has already accepted. Handler.timeout and the API timeout bound that.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], assets: Assets, api_url: str, api_timeout: float
    ) -> None:
        super().__init__(address, Handler)
        self.assets = assets
        self.api_url = api_url
        self.api_timeout = api_timeout

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    """Routes: ``GET /``, ``GET /healthz``; everything else is a plain-text 404."""

    server_version = SERVICE_NAME
    sys_version = ""
    timeout = 10  # seconds a client may take to send its request

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            # Liveness only: never calls the API, so an API outage doesn't make the load
            # balancer and ECS replace healthy web tasks.
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", b"ok")
        elif path == "/":
            server = self._server()
            api = check_api(server.api_url, server.api_timeout)
            page = render_page(server.assets, api)
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode("utf-8"))
        else:
            # Includes /_next/static/...: CloudFront serves those from S3, never this server.
            self.send_error(HTTPStatus.NOT_FOUND)

    def do_HEAD(self) -> None:
        self.do_GET()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer errors (404, and the 400/501 raised by the base class) in plain text."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.close_connection = True
        self._send(code, "text/plain; charset=utf-8", (message or phrase).encode("utf-8"))

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request, to stdout (the container log), not stderr."""
        sys.stdout.write(f"{self.address_string()} - {format % args}\n")
        sys.stdout.flush()

    def _server(self) -> SampleWebServer:
        assert isinstance(self.server, SampleWebServer)
        return self.server

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def make_server(
    host: str,
    port: int,
    *,
    api_url: str = "",
    static_dir: Path = DEFAULT_STATIC_DIR,
    api_timeout: float = API_TIMEOUT_SECONDS,
) -> SampleWebServer:
    """Find the static files and bind (port 0 picks a free port); the caller serves."""
    assets = load_assets(static_dir)
    return SampleWebServer((host, port), assets, parse_api_url(api_url), api_timeout)


def serve(environ: Mapping[str, str] | None = None) -> int:
    """Serve on ``$HOST:$PORT`` until SIGTERM/SIGINT, then shut down and return 0."""
    env = os.environ if environ is None else environ
    host = env.get("HOST", DEFAULT_HOST)
    try:
        port = int(env.get("PORT", str(DEFAULT_PORT)))
    except ValueError:
        print(f"serve: error: PORT must be an integer, got {env['PORT']!r}", file=sys.stderr)
        return 1
    static_dir = Path(env.get("STATIC_DIR") or DEFAULT_STATIC_DIR)
    try:
        server = make_server(host, port, api_url=env.get("API_URL", ""), static_dir=static_dir)
    except (AssetError, ConfigError) as exc:
        print(f"serve: error: {exc}", file=sys.stderr)
        return 1
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
    api = server.api_url or "not configured"
    print(f"{SERVICE_NAME} listening on {host}:{server.port} (API: {api})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    print(f"stopped ({', '.join(received) or 'shutdown'})", flush=True)
    return 0
