"""Tests for ``python -m release_tools.plan``: the release plan read back from the Pipeline
stack's outputs, checked, written for the workflow's steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from release_tools import plan as release_plan
from tests.pipeline.plans import STACK, WORKLOADS, document, outputs, sample_plan, workload


def expect_describe(stub: Stubber, values: dict[str, str], stack: str = STACK) -> None:
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack,
                    "CreationTime": "2024-01-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()],
                }
            ]
        },
        {"StackName": stack},
    )


def test_reads_every_workload_and_step_from_the_outputs() -> None:
    plan = sample_plan()
    assert [w.name for w in plan.workloads] == ["web", "api", "cleanup"]
    assert [w.service is None for w in plan.workloads] == [False, False, True]
    assert plan.workload("cleanup").family == "TestComputecleanupTaskDefinition"
    assert plan.migration == release_plan.Migration(workload="api", timeout_seconds=900)
    assert plan.static is not None
    assert plan.static.files[0].from_image == "/app/static"
    assert plan.invalidation == release_plan.Invalidation("E2QWRUHAPOMQZL", ("/",))
    assert plan.smoke.urls[1].endswith("/api/health")
    assert release_plan.ReleasePlan.from_json(plan.to_json()) == plan


def test_optional_steps_may_be_absent() -> None:
    plan = sample_plan(migration=None, static=None, invalidation=None)
    assert (plan.migration, plan.static, plan.invalidation) == (None, None, None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "no output ReleasePlan: is this the Pipeline stack of an environment with "),
        (outputs(workloads=WORKLOADS[:2]), "no output ReleaseWorkload2 (output ReleasePlan names"),
        (
            {**outputs(), "ReleasePlan": "{not json"},
            "output ReleasePlan is not JSON",
        ),
        (
            outputs(document(version=99)),
            "output ReleasePlan: version 99 is not 1: deploy the Pipeline stack of this commit",
        ),
        (
            outputs(document(migration={"workload": "cleanup", "timeout_seconds": 900})),
            "the migration's workload 'cleanup' is a job",
        ),
        (
            outputs(document(migration={"workload": "nope", "timeout_seconds": 900})),
            "no workload 'nope' in the plan",
        ),
        (
            outputs(document(cluster="")),
            "output ReleasePlan: 'cluster' must be a non-empty string",
        ),
        (
            outputs(document(workloads=0), workloads=[]),
            "output ReleasePlan: no workload to release",
        ),
        (
            outputs(workloads=[workload("web"), workload("web"), workload("api")]),
            "workloads named twice",
        ),
        (
            outputs(workloads=[{**workload("web"), "family": 3}, *WORKLOADS[1:]]),
            "output ReleaseWorkload0: 'family' must be a non-empty string",
        ),
        (
            outputs(document(smoke={"urls": [], "attempts": "ten"})),
            "output ReleasePlan.smoke: 'attempts' must be a whole number",
        ),
    ],
)
def test_malformed_outputs_are_refused_naming_the_output(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(release_plan.PlanError) as info:
        release_plan.from_outputs(values)
    assert message in str(info.value)


def test_main_writes_the_plan(
    cfn: Any, cfn_stub: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_describe(cfn_stub, outputs())
    out = tmp_path / ".release" / "plan.json"
    assert release_plan.main(["--stack", STACK, "--out", str(out)], cfn=cfn) == 0
    assert release_plan.load(out) == sample_plan()
    assert json.loads(out.read_text())["workloads"][2]["service"] is None
    assert capsys.readouterr().out.strip() == (
        f"release plan of Test ({STACK}) written to {out}: web (service), api (service), "
        "cleanup (job)"
    )


def test_main_names_the_stack_of_a_bad_plan(
    cfn: Any, cfn_stub: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_describe(cfn_stub, {"PipelineName": "Prod-pipeline"})
    out = tmp_path / "plan.json"
    assert release_plan.main(["--stack", STACK, "--out", str(out)], cfn=cfn) == 2
    assert capsys.readouterr().err.startswith(
        f"no release plan: stack {STACK!r}: no output ReleasePlan"
    )
    assert not out.exists()


def test_main_reports_a_missing_stack(
    cfn: Any, cfn_stub: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn_stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
    )
    assert release_plan.main(["--stack", STACK, "--out", str(tmp_path / "p.json")], cfn=cfn) == 2
    assert f"cannot read stack {STACK!r}" in capsys.readouterr().err
