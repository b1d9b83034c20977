#!/usr/bin/env python3
"""CDK entry point: validate every `config/*.yaml` (or the directory `PLATFORM_CONFIG` names,
e.g. an example's), then build one Stage per environment.

A bad config stops here, before any construct exists: one line per problem on stderr,
naming the file and the field, and exit code 1 (no traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from config.loader import CONFIG_DIR, ConfigError, load_from

#: Another directory of environment files to build instead of config/ (`make synth
#: CONFIG=examples/ec2-capacity`); unset or empty: config/.
CONFIG_VARIABLE = "PLATFORM_CONFIG"


def main() -> int:
    try:
        environments = load_from(Path(os.environ.get(CONFIG_VARIABLE) or CONFIG_DIR))
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
