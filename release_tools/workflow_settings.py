"""The settings .github/workflows/release.yml needs before any AWS call, from the config.

Usage: python -m release_tools.workflow_settings --stage Test >> "$GITHUB_OUTPUT"

Prints `name=value` lines (multi-line values in GitHub's `name<<DELIMITER` form) for the
workflow's `settings` job, read from the validated config of the commit being released:

- `stack`: the Pipeline stack whose outputs hold the release plan (`release_tools.plan`);
- `github-environment`: the GitHub environment the release job runs in (empty with
  `trust: branch`); `runs-on`, `timeout-minutes` and `session-seconds` (the role session the
  job asks for: the timeout rounded up to hours, as the role's maximum is);
- `install-commands`, `test-commands`, `build-commands`: `pipeline.build`'s commands, one a
  line (the test job runs install + test, the release job install + build, before the
  images are built; empty: nothing to run);
- `database-image`, `database-port`, `database-name`, `database-options`: the test job's
  database service container: the engine and major version the environment runs.

Exit 2 with one line naming the file and field when the stage is unknown or not released
from GitHub Actions.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Iterator

from config.models import EnvironmentConfig
from config.pipeline import GitHubActionsRelease, Pipeline
from release_tools.stage_config import load_stage

#: The test database's user and password (a throw-away service container).
TEST_DATABASE_USER = "app"
_ENGINE_PORTS = {"postgres": 5432, "mysql": 3306}


def _database(config: EnvironmentConfig) -> dict[str, str]:
    database = config.database
    name = database.database_name
    if database.engine == "postgres":
        health = f"pg_isready -U {TEST_DATABASE_USER} -d {name}"
    else:
        health = f"mysqladmin ping -h 127.0.0.1 -u{TEST_DATABASE_USER} -p{TEST_DATABASE_USER}"
    return {
        "database-image": f"{database.engine}:{database.engine_version}",
        "database-port": str(_ENGINE_PORTS[database.engine]),
        "database-name": name,
        "database-options": f'--health-cmd "{health}" --health-interval 5s '
        "--health-timeout 5s --health-retries 30",
    }


def settings(
    config: EnvironmentConfig, pipeline: Pipeline, github: GitHubActionsRelease
) -> dict[str, str | tuple[str, ...]]:
    build = pipeline.build
    return {
        "stage": config.stage_name,
        "stack": f"{config.stage_name}-Pipeline",
        "github-environment": github.environment or "",
        "runs-on": github.runs_on,
        "timeout-minutes": str(github.timeout_minutes),
        "session-seconds": str(github.session_hours * 3600),
        "install-commands": build.install_commands,
        "test-commands": build.test_commands,
        "build-commands": build.build_commands,
        **_database(config),
    }


def lines(values: dict[str, str | tuple[str, ...]], delimiter: str) -> Iterator[str]:
    """`$GITHUB_OUTPUT` lines; command lists as multi-line values (one command a line)."""
    for name, value in values.items():
        if isinstance(value, str):
            yield f"{name}={value}"
            continue
        yield f"{name}<<{delimiter}"
        yield from value
        yield delimiter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.workflow_settings", description=__doc__
    )
    parser.add_argument("--stage", required=True, help="stage name, e.g. Test")
    args = parser.parse_args(argv)
    loaded = load_stage(args.stage)
    if loaded is None:
        return 2
    config, shown = loaded.config, f"config/{loaded.path.name}"
    pipeline = config.pipeline
    if pipeline is None or pipeline.github_actions is None:
        provider = "null" if pipeline is None else repr(pipeline.provider)
        field = "pipeline" if pipeline is None else "pipeline.provider"
        print(
            f"{shown}: {field}: {provider}, so stage {args.stage!r} is not released from "
            "GitHub Actions",
            file=sys.stderr,
        )
        return 2
    values = settings(config, pipeline, pipeline.github_actions)
    commands = [c for k, v in values.items() if k.endswith("-commands") for c in v]
    delimiter = f"EOF_{secrets.token_hex(8)}"
    if any(delimiter in command for command in commands):  # pragma: no cover - 2**-64
        print("a command holds the output delimiter; run again", file=sys.stderr)
        return 2
    print("\n".join(lines(values, delimiter)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
