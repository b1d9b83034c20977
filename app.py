#!/usr/bin/env python3
"""CDK entry point: validate every `config/*.yaml` (or the directories `PLATFORM_CONFIG`
names, e.g. an example's), then build one Stage per environment.

A bad config stops here, before any construct exists: one line per problem on stderr,
naming the file and the field, and exit code 1 (no traceback).

`-c stage=Prod` (context; `make deploy STAGE=Prod` passes it) builds that environment only,
checked exactly as in the whole app; several names separated by commas build those. Without
it, every stage is built in this process; `PLATFORM_SYNTH_WORKERS=N` builds them in N worker
processes instead, each running this file with some stages selected, their cloud assemblies
merged into one (`synthesis/`): slower on two shared cores (README, Speed).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from config.loader import CONFIG_DIR, ConfigError, LoadedEnvironment, load_from
from config.models import EnvironmentConfig

#: Other directories of environment files to build instead of config/ (`make synth
#: CONFIG=examples/ec2-capacity`); several, separated by `:`, are built side by side (each
#: checked on its own, their stage names unique). Unset or empty: config/.
CONFIG_VARIABLE = "PLATFORM_CONFIG"


def config_dirs(value: str | None) -> list[Path]:
    """The directories `PLATFORM_CONFIG` names (config/ when it names none)."""
    dirs = [Path(part) for part in (value or "").split(os.pathsep) if part.strip()]
    return dirs or [CONFIG_DIR]


def load(directories: Sequence[Path]) -> tuple[LoadedEnvironment, ...]:
    """Every environment of `directories`, each directory validated as one app of its own;
    `ConfigError` lists every problem, a stage name given twice across directories too."""
    problems: list[str] = []
    environments: list[LoadedEnvironment] = []
    for directory in directories:
        try:
            environments += load_from(directory)
        except ConfigError as exc:
            problems += exc.problems
    seen: dict[str, LoadedEnvironment] = {}
    for env in environments:
        key = env.config.stage_name.lower()
        other = seen.setdefault(key, env)
        if other is not env:
            problems.append(
                f"{env.path}: stage_name: {env.config.stage_name!r} clashes with stage "
                f"{other.config.stage_name!r} of {other.path}"
            )
    if problems:
        raise ConfigError(problems)
    return tuple(environments)


def stage_cost(config: EnvironmentConfig) -> float:
    """A stage's relative synthesis cost, to spread stages over workers: its stacks and
    workloads, which is where the constructs and the checked templates come from."""
    stacks = 5 + sum(
        (config.storage is not None, config.pipeline is not None, config.security.enabled)
    )
    return float(stacks + len(config.services))


def main() -> int:
    try:
        environments = load(config_dirs(os.environ.get(CONFIG_VARIABLE)))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 1
    configs = [env.config for env in environments]
    # CDK-free: what to build, and how, is decided before the CDK (and its Node) loads.
    from synthesis import node, parallel, selection, template_checks  # noqa: PLC0415

    stage_names = [config.stage_name for config in configs]
    context = selection.cli_context(os.environ)
    try:
        selected = selection.selected_stages(context, stage_names)
        workers = 1 if selected else parallel.worker_count(os.environ, len(configs))
    except (selection.SelectionError, parallel.WorkersError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    outdir = os.environ.get(selection.OUTDIR_ENV)
    if workers > 1 and outdir:
        groups = parallel.plan([(c.stage_name, stage_cost(c)) for c in configs], workers)
        return parallel.synthesize(
            Path(__file__).resolve(),
            groups,
            outdir=Path(outdir),
            context=context,
            environ=os.environ,
            stage_order=stage_names,
        )
    node.use_synth_node(os.environ)
    # The CDK loads only now: a bad config is reported before it (and its Node process) does.
    # Its template checks start in Node while the app's modules are imported here.
    checks = template_checks.create(os.environ)
    from stacks.application import build_app  # noqa: PLC0415

    build_app(configs, stages=selected, template_checks=checks).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
