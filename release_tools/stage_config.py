"""The validated config of one stage, for the release tools that read it (the deploy role, the
GitHub Actions settings): every problem goes to stderr, naming file and field."""

from __future__ import annotations

import sys

from config.loader import ConfigError, LoadedEnvironment, load_environments


def load_stage(stage: str) -> LoadedEnvironment | None:
    """The environment of `stage` in config/, or None after saying why on stderr."""
    try:
        environments = load_environments()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    by_stage = {e.config.stage_name: e for e in environments}
    loaded = by_stage.get(stage)
    if loaded is None:
        print(f"no stage {stage!r}; stages: {', '.join(sorted(by_stage))}", file=sys.stderr)
    return loaded
