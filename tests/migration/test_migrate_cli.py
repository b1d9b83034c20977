"""Tests for the operator CLI ``python -m release_tools.migrate``."""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from release_tools import migrate
from tests.migration.responses import (
    CLUSTER,
    TASK_ARN,
    TASK_DEFINITION,
    describe_params,
    describe_running,
    describe_stopped,
    run_task_ok,
    run_task_params,
)

OUTPUTS = {
    "MigrationClusterName": CLUSTER,
    "MigrationTaskDefinitionArn": TASK_DEFINITION,
    "MigrationSubnetIds": "subnet-aaa, subnet-bbb",
    "MigrationSecurityGroupIds": "sg-111",
    "MigrationAssignPublicIp": "false",
    "MigrationContainerName": "migration",
}


def stack_response(stack_name: str, outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": stack_name,
                "CreationTime": "2024-01-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def test_success(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn_stub.add_response(
        "describe_stacks", stack_response("Prod-Compute", OUTPUTS), {"StackName": "Prod-Compute"}
    )
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=0), describe_params())

    code = migrate.main(["--stage", "Prod"], cfn=cfn, ecs=ecs)

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == f"{TASK_ARN}\nmigration succeeded\n"
    assert captured.err == ""


def test_migration_failure_exits_1(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn_stub.add_response(
        "describe_stacks", stack_response("Prod-Compute", OUTPUTS), {"StackName": "Prod-Compute"}
    )
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=1), describe_params())

    code = migrate.main(["--stage", "Prod"], cfn=cfn, ecs=ecs)

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err == (
        f"migration failed: Migration task {TASK_ARN} failed: container 'migration' exited "
        "with code 1 (stopCode=EssentialContainerExited, "
        "stoppedReason='Essential container in task exited')\n"
    )


def test_timeout_exits_1_and_stops_task(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn_stub.add_response(
        "describe_stacks", stack_response("Custom", OUTPUTS), {"StackName": "Custom"}
    )
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())
    ecs_stub.add_response(
        "stop_task",
        {"task": {"taskArn": TASK_ARN}},
        {"cluster": CLUSTER, "task": TASK_ARN, "reason": "Migration timed out after 0 s"},
    )

    code = migrate.main(
        ["--stage", "Prod", "--stack-name", "Custom", "--timeout", "0"], cfn=cfn, ecs=ecs
    )

    assert code == 1
    assert capsys.readouterr().err == (
        f"migration failed: Migration timed out after 0 s; stopped task {TASK_ARN}\n"
    )


def test_missing_stack_exits_2(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn_stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id Dev-Compute does not exist",
        http_status_code=400,
        expected_params={"StackName": "Dev-Compute"},
    )

    code = migrate.main(["--stage", "Dev"], cfn=cfn, ecs=ecs)

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == (
        "migration not started: cannot read stack 'Dev-Compute': An error occurred "
        "(ValidationError) when calling the DescribeStacks operation: "
        "Stack with id Dev-Compute does not exist\n"
    )


def test_missing_output_exits_2(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != "MigrationSecurityGroupIds"}
    cfn_stub.add_response(
        "describe_stacks", stack_response("Prod-Compute", outputs), {"StackName": "Prod-Compute"}
    )

    code = migrate.main(["--stage", "Prod"], cfn=cfn, ecs=ecs)

    assert code == 2
    assert capsys.readouterr().err == (
        "migration not started: stack 'Prod-Compute' is missing output(s): "
        "MigrationSecurityGroupIds\n"
    )


def test_invalid_assign_public_ip_exits_2(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {**OUTPUTS, "MigrationAssignPublicIp": "ENABLED"}
    cfn_stub.add_response(
        "describe_stacks", stack_response("Prod-Compute", outputs), {"StackName": "Prod-Compute"}
    )

    code = migrate.main(["--stage", "Prod"], cfn=cfn, ecs=ecs)

    assert code == 2
    assert capsys.readouterr().err == (
        "migration not started: stack 'Prod-Compute' output MigrationAssignPublicIp must be "
        "'true' or 'false', got 'ENABLED'\n"
    )


def test_region_is_passed_to_clients(
    monkeypatch: pytest.MonkeyPatch,
    cfn: Any,
    cfn_stub: Stubber,
    ecs: Any,
    ecs_stub: Stubber,
) -> None:
    created: list[tuple[str, str | None]] = []
    clients = {"cloudformation": cfn, "ecs": ecs}

    def fake_client(service: str, region_name: str | None = None) -> Any:
        created.append((service, region_name))
        return clients[service]

    monkeypatch.setattr(boto3, "client", fake_client)
    outputs = {**OUTPUTS, "MigrationAssignPublicIp": "true"}
    cfn_stub.add_response(
        "describe_stacks", stack_response("Prod-Compute", outputs), {"StackName": "Prod-Compute"}
    )
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params(assign_public_ip="ENABLED"))
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=0), describe_params())

    assert migrate.main(["--stage", "Prod", "--region", "us-west-2"]) == 0
    assert created == [("cloudformation", "us-west-2"), ("ecs", "us-west-2")]
