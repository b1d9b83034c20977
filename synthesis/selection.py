"""The context the CDK CLI hands the app, and the stages it selects (`-c stage=Prod`).

Read before the CDK loads, the way `aws_cdk.App` reads it: `CDK_CONTEXT_JSON` (what
`cdk.json`, `cdk.context.json` and `-c` give), overlaid by the file
`CONTEXT_OVERFLOW_LOCATION_ENV` names when the CLI had too much context for one variable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CONTEXT_ENV = "CDK_CONTEXT_JSON"
CONTEXT_OVERFLOW_ENV = "CONTEXT_OVERFLOW_LOCATION_ENV"
OUTDIR_ENV = "CDK_OUTDIR"
#: `cdk synth -c stage=Prod`, `make deploy STAGE=Prod`: build only that environment; several
#: names separated by commas build those. Unset or empty: every environment.
STAGE_CONTEXT = "stage"


class SelectionError(Exception):
    """A `stage` context value that names no environment of the app."""


def cli_context(environ: Mapping[str, str]) -> dict[str, Any]:
    """The context the CDK CLI passed in `environ` (empty when run without it)."""
    context: dict[str, Any] = {}
    inline = environ.get(CONTEXT_ENV)
    if inline:
        context.update(json.loads(inline))
    overflow = environ.get(CONTEXT_OVERFLOW_ENV)
    if overflow:
        context.update(json.loads(Path(overflow).read_text(encoding="utf-8")))
    return context


def selected_stages(context: Mapping[str, Any], stage_names: Sequence[str]) -> list[str] | None:
    """The stages `context` selects, in the app's order; None when it selects none (the
    whole app). Names compare without case, as stage names do in cdk.out."""
    value = context.get(STAGE_CONTEXT)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SelectionError(
            f"context {STAGE_CONTEXT}: expected stage names separated by commas, got {value!r}"
        )
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    by_key = {name.lower(): name for name in stage_names}
    unknown = [name for name in wanted if name.lower() not in by_key]
    if unknown or not wanted:
        raise SelectionError(
            f"context {STAGE_CONTEXT}: {', '.join(map(repr, unknown)) or repr(value)} is not a "
            f"stage of this app (stages: {', '.join(stage_names)})"
        )
    keys = {name.lower() for name in wanted}
    return [name for name in stage_names if name.lower() in keys]
