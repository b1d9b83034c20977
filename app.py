#!/usr/bin/env python3
"""CDK entry point: validate every `config/*.yaml`, then build one Stage per environment.

A bad config stops here, before any construct exists: one line per problem on stderr,
naming the file and the field, and exit code 1 (no traceback).
"""

from __future__ import annotations

import sys

from config.loader import ConfigError, load_environments


def main() -> int:
    try:
        environments = load_environments()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 1
    # Imported only now: a bad config is reported before the CDK (and its Node process) loads.
    from stacks.application import build_app  # noqa: PLC0415

    build_app(env.config for env in environments).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
