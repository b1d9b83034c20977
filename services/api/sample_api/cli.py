"""Command dispatch for ``python -m sample_api``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = "usage: python -m sample_api {serve|migrate|worker|cleanup}"
EXIT_USAGE = 2


def _serve() -> int:
    from sample_api.server import serve  # noqa: PLC0415 - each command imports only what it needs

    return serve()


def _migrate() -> int:
    from sample_api.migrate import run  # noqa: PLC0415 - each command imports only what it needs

    return run()


def _worker() -> int:
    from sample_api.worker import run  # noqa: PLC0415 - each command imports only what it needs

    return run()


def _cleanup() -> int:
    from sample_api.cleanup import run  # noqa: PLC0415 - each command imports only what it needs

    return run()


COMMANDS: dict[str, Callable[[], int]] = {
    "serve": _serve,
    "migrate": _migrate,
    "worker": _worker,
    "cleanup": _cleanup,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(args) != 1 or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    return COMMANDS[args[0]]()
