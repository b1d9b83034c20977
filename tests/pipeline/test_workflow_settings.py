"""Tests for ``python -m release_tools.workflow_settings``: what the release workflow reads
from the config before any AWS call."""

from __future__ import annotations

import re

import pytest

from config.loader import load_environments
from release_tools import workflow_settings


def parse(text: str) -> dict[str, str | list[str]]:
    """`$GITHUB_OUTPUT` lines back into values, as GitHub reads them."""
    values: dict[str, str | list[str]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if match := re.fullmatch(r"([a-z-]+)<<(EOF_[0-9a-f]{16})", line):
            name, delimiter = match.groups()
            values[name] = list(iter(lines.__next__, delimiter))
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_stage_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert workflow_settings.main(["--stage", "Stage"]) == 0
    values = parse(capsys.readouterr().out)
    (stage,) = [e.config for e in load_environments() if e.config.stage_name == "Stage"]
    assert stage.pipeline is not None
    build = stage.pipeline.build
    assert values == {
        "stage": "Stage",
        "stack": "Stage-Pipeline",
        "github-environment": "stage",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": "120",
        "session-seconds": "7200",
        "install-commands": list(build.install_commands),
        "test-commands": list(build.test_commands),
        "build-commands": [],
        "database-image": "postgres:16",
        "database-port": "5432",
        "database-name": "app",
        "database-options": '--health-cmd "pg_isready -U app -d app" --health-interval 5s '
        "--health-timeout 5s --health-retries 30",
    }
    assert values["install-commands"] == ["python3 -m pip install --quiet -r requirements-dev.txt"]


def test_a_mysql_environment_tests_against_mysql() -> None:
    (test,) = [e.config for e in load_environments() if e.config.stage_name == "Test"]
    mysql = test.model_copy(
        update={
            "database": test.database.model_copy(
                update={"engine": "mysql", "engine_version": "8.0"}
            )
        }
    )
    assert mysql.pipeline is not None
    assert mysql.pipeline.github_actions is not None
    values = workflow_settings.settings(mysql, mysql.pipeline, mysql.pipeline.github_actions)
    assert (values["database-image"], values["database-port"]) == ("mysql:8.0", "3306")
    assert "mysqladmin ping" in str(values["database-options"])


def test_branch_trust_runs_outside_any_github_environment() -> None:
    (test,) = [e.config for e in load_environments() if e.config.stage_name == "Test"]
    assert test.pipeline is not None
    assert test.pipeline.github_actions is not None
    github = test.pipeline.github_actions.model_copy(
        update={"trust": "branch", "environment": None, "timeout_minutes": 61}
    )
    values = workflow_settings.settings(test, test.pipeline, github)
    assert values["github-environment"] == ""
    assert values["session-seconds"] == "7200"  # rounded up to hours, as the role's maximum


def test_stages_not_released_from_github_actions_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert workflow_settings.main(["--stage", "Prod"]) == 2
    assert capsys.readouterr().err.strip() == (
        "config/prod.yaml: pipeline.provider: 'codepipeline', so stage 'Prod' is not released "
        "from GitHub Actions"
    )
    assert workflow_settings.main(["--stage", "Nope"]) == 2
    assert "no stage 'Nope'; stages: Prod, Stage, Test" in capsys.readouterr().err
