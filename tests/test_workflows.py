"""The GitHub Actions workflows: actionlint-clean, and shaped as the README describes.

Fast: no CDK synth (no fixture of conftest.py is requested); actionlint runs as the Makefile
runs it, `node scripts/actionlint.cjs` on the pinned Node 22 (first on PATH).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import load_environments
from release_tools import deploy_role

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPT = ROOT / "scripts" / "actionlint.cjs"

BROKEN_WORKFLOW = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    not-a-job-key: true
    steps:
      - run: echo "${{ steps.nope.outputs.x }}"
"""


def actionlint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: run the tests via `make test` (pinned Node 22)")
    return subprocess.run(
        [node, str(SCRIPT), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return workflow


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The `on:` mapping (PyYAML reads the bare key `on` as the boolean True)."""
    on = workflow.get("on", workflow.get(True))
    assert on is not None, "workflow has no `on:`"
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def uses(workflow: dict[Any, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(workflow) if str(s.get("uses", "")).startswith(f"{action}@")]


# --- actionlint ------------------------------------------------------------------------------


def test_every_workflow_passes_actionlint() -> None:
    result = actionlint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(WORKFLOWS.glob("*.yml")), "no workflows"
    count = len(list(WORKFLOWS.glob("*.yml")) + list(WORKFLOWS.glob("*.yaml")))
    assert f"actionlint: {count} workflow file(s), 0 finding(s)" in result.stdout


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    result = actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}:5:5: unexpected key" in result.stdout
    assert '"not-a-job-key"' in result.stdout
    assert 'property "nope" is not defined' in result.stdout
    assert "2 finding(s)" in result.stdout


def test_actionlint_with_nothing_to_lint_fails(tmp_path: Path) -> None:
    result = actionlint(tmp_path)  # a directory without workflows
    assert result.returncode == 2
    assert "no workflow files" in result.stderr


def test_actionlint_with_an_unreadable_file_fails(tmp_path: Path) -> None:
    result = actionlint(tmp_path / "missing.yml")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


# --- ci.yml ----------------------------------------------------------------------------------


def test_ci_runs_on_pull_requests_and_pushes() -> None:
    ci = load("ci.yml")
    assert {"pull_request", "push"} <= set(triggers(ci))
    assert ci["permissions"] == {"contents": "read"}
    assert ci["concurrency"]["cancel-in-progress"] is True


def test_ci_runs_the_readme_commands_in_order() -> None:
    runs = [s["run"].strip() for s in steps(load("ci.yml")) if "run" in s]
    assert "make test" in runs
    assert "make synth" in runs
    assert runs.index("make test") < runs.index("make synth")


def test_ci_caches_pip_and_npm() -> None:
    ci = load("ci.yml")
    (python,) = uses(ci, "actions/setup-python")
    assert python["with"]["cache"] == "pip"
    assert str(python["with"]["python-version"]) == "3.11"
    assert set(python["with"]["cache-dependency-path"].split()) == {
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-pipeline.txt",
        "requirements-checkov.txt",
    }
    (node,) = uses(ci, "actions/setup-node")
    assert node["with"]["cache"] == "npm"
    assert node["with"]["cache-dependency-path"] == "package-lock.json"


def test_ci_always_uploads_the_nag_report_and_the_assembly() -> None:
    uploads = uses(load("ci.yml"), "actions/upload-artifact")
    paths = {p for u in uploads for p in u["with"]["path"].split()}
    assert {"cdk.out/validation-report.json", "cdk.out/compliance/", "cdk.out"} <= paths
    for upload in uploads:
        assert upload.get("if") == "always()", upload


# --- deploy.yml ------------------------------------------------------------------------------


def test_deploy_offers_exactly_the_stages_with_a_deploy_role() -> None:
    # The stages whose config asks for a GitHub deploy role (pipeline.github_oidc).
    stages = [e.config.stage_name for e in load_environments() if e.config.github_role_name]
    assert stages, "no shipped stage has a GitHub deploy role"
    dispatch = triggers(load("deploy.yml"))["workflow_dispatch"]
    stage = dispatch["inputs"]["stage"]
    assert stage["type"] == "choice"
    assert stage["required"] is True
    assert sorted(stage["options"]) == sorted(stages)


def test_deploy_role_script_prints_the_configured_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy_role.main(["--stage", "Prod"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "role_arn=arn:aws:iam::333333333333:role/Prod-github-deploy",
        "region=ap-northeast-1",
    ]


def test_deploy_role_script_names_the_missing_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy_role.main(["--stage", "Test"]) == 2
    assert capsys.readouterr().err.strip() == (
        "config/test.yaml: pipeline.github_oidc: not set, so stage 'Test' has no GitHub deploy role"
    )
    assert deploy_role.main(["--stage", "Nope"]) == 2
    assert "no stage 'Nope'; stages: Prod, Stage, Test" in capsys.readouterr().err


def test_deploy_uses_oidc_without_an_environment() -> None:
    deploy = load("deploy.yml")
    assert deploy["permissions"]["id-token"] == "write"
    # An `environment:` would change the token's `sub`, which the role's trust policy rejects.
    for name, job in deploy["jobs"].items():
        assert "environment" not in job, name
    (credentials,) = uses(deploy, "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ steps.role.outputs.role_arn }}"


def test_deploy_never_splices_inputs_into_scripts() -> None:
    runs = [s["run"] for s in steps(load("deploy.yml")) if "run" in s]
    for run in runs:
        assert not re.search(r"\$\{\{\s*(github\.event\.)?inputs", run), run
    assert any(run.strip().startswith("make deploy") for run in runs)
