"""Smoke-test a deployed stage: GET health URLs until each answers 2xx or attempts run out.

Usage: python -m release_tools.smoke --url https://app.example.com/api/health [--url URL ...]
                               [--attempts 10] [--interval 15] [--timeout 10]

``--url`` may be given several times: the URLs are checked in order (a repeated one once),
each with its own ``--attempts``, and the first that gets no 2xx answer ends the test (the
rest are not requested), so the test takes at most URLs x attempts x interval seconds.

Redirects are not followed: a health check that redirects is misconfigured (wrong scheme,
host or path), so a 3xx fails at once without retrying. Any other non-2xx status or network
error (refused, reset, timed out, TLS) is retried: ``--attempts`` tries, ``--interval`` s apart.

Exit codes: 0 a 2xx answer from every URL; 1 a URL gave no 2xx answer (the last status or
error is printed); 2 bad arguments (a URL that is not http(s) with a host, or bad numbers;
nothing is requested).
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import IO, Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2

USER_AGENT = "platform-smoke-test"
_MAX_BODY_BYTES = 64 * 1024


class NoRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect (to another host or not): the 3xx becomes an HTTPError."""

    def redirect_request(  # noqa: PLR0917 - signature fixed by urllib
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def build_opener(proxies: Mapping[str, str] | None = None) -> urllib.request.OpenerDirector:
    """An opener that never follows redirects; ``proxies`` None means the environment's."""
    handlers: list[Any] = [NoRedirectHandler()]
    if proxies is not None:
        handlers.append(urllib.request.ProxyHandler(dict(proxies)))
    return urllib.request.build_opener(*handlers)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.smoke", description="GET health URLs until each answers 2xx."
    )
    parser.add_argument(
        "--url",
        action="append",
        required=True,
        dest="urls",
        metavar="URL",
        help="http(s) URL to GET (repeatable: checked in order, each with its own attempts)",
    )
    parser.add_argument("--attempts", type=int, default=10, help="tries (default 10)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between tries")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    return parser.parse_args(argv)


def validate_url(url: str) -> str:
    """Return ``url`` if it is http(s) with a host; raise ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    return url


def probe(
    opener: urllib.request.OpenerDirector, url: str, timeout: float
) -> tuple[bool, bool, str]:
    """One GET: (succeeded, worth retrying, what happened)."""
    request = urllib.request.Request(  # noqa: S310 - scheme checked by validate_url
        url, headers={"User-Agent": USER_AGENT}, method="GET"
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(_MAX_BODY_BYTES)
            status: int = response.status
            reason: str = response.reason
    except urllib.error.HTTPError as exc:
        with exc:
            if 300 <= exc.code < 400:
                location = exc.headers.get("Location") or "no Location"
                return (
                    False,
                    False,
                    (
                        f"HTTP {exc.code} {exc.reason}, redirect to {location} not followed: "
                        "a health check must not redirect"
                    ),
                )
            return False, True, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return False, True, f"error: {exc.reason}"
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, bad responses
        return False, True, f"error: {type(exc).__name__}: {exc}"
    return 200 <= status < 300, True, f"HTTP {status} {reason}"


def check_url(
    opener: urllib.request.OpenerDirector,
    url: str,
    *,
    attempts: int,
    interval: float,
    timeout: float,
    sleep: Callable[[float], None],
) -> bool:
    """GET ``url`` until a 2xx answer (True) or attempts run out (False, reason on stderr)."""
    result = ""
    for attempt in range(1, attempts + 1):
        ok, retry, result = probe(opener, url, timeout)
        print(f"attempt {attempt}/{attempts}: {url} -> {result}", flush=True)
        if ok:
            return True
        if not retry:
            print(f"smoke test failed: {url}: {result}", file=sys.stderr)
            return False
        if attempt < attempts:
            sleep(interval)

    print(
        f"smoke test failed: no 2xx from {url} in {attempts} attempt(s); last: {result}",
        file=sys.stderr,
    )
    return False


def main(
    argv: list[str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    opener: urllib.request.OpenerDirector | None = None,
) -> int:
    """Run the smoke test; return the process exit code."""
    args = _parse_args(argv)
    try:
        urls = list(dict.fromkeys(validate_url(url) for url in args.urls))
        if args.attempts < 1 or args.interval < 0 or args.timeout <= 0:
            raise ValueError("--attempts must be >= 1, --interval >= 0 and --timeout > 0")
    except ValueError as exc:
        print(f"smoke test not started: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if opener is None:
        opener = build_opener()

    for url in urls:
        if not check_url(
            opener,
            url,
            attempts=args.attempts,
            interval=args.interval,
            timeout=args.timeout,
            sleep=sleep,
        ):
            return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
