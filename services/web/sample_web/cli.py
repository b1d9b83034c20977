"""Command dispatch for ``python -m sample_web``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = "usage: python -m sample_web {serve}"
EXIT_USAGE = 2


def _serve() -> int:
    from sample_web.server import serve  # noqa: PLC0415 - imported only when the command runs

    return serve()


COMMANDS: dict[str, Callable[[], int]] = {"serve": _serve}


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
