"""Tests for ``python -m release_tools.migrate --image``: migrate with the image about to be
released."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from release_tools import migrate
from tests.migration.responses import (
    CLUSTER,
    TASK_ARN,
    TASK_DEFINITION,
    describe_params,
    describe_stopped,
    run_task_ok,
    run_task_params,
)
from tests.pipeline.responses import REPOSITORY, described, register_params, registered

IMAGE = f"{REPOSITORY}:v1.1.0"
NEW_TASK_DEFINITION = TASK_DEFINITION.rsplit(":", 1)[0] + ":8"
OUTPUTS = {
    "MigrationClusterName": CLUSTER,
    "MigrationTaskDefinitionArn": TASK_DEFINITION,
    "MigrationSubnetIds": "subnet-aaa, subnet-bbb",
    "MigrationSecurityGroupIds": "sg-111",
    "MigrationAssignPublicIp": "false",
    "MigrationContainerName": "migration",
}


def expect_stack(cfn_stub: Stubber) -> None:
    cfn_stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "Prod-Compute",
                    "CreationTime": "2024-01-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()],
                }
            ]
        },
        {"StackName": "Prod-Compute"},
    )


def expect_describe(ecs_stub: Stubber, app_name: str = "migration") -> None:
    ecs_stub.add_response(
        "describe_task_definition",
        described(arn=TASK_DEFINITION, app_name=app_name),
        {"taskDefinition": TASK_DEFINITION, "include": ["TAGS"]},
    )


def test_registers_new_revision_and_runs_it(
    cfn_stub: Stubber, ecs_stub: Stubber, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cfn, ecs = cfn_stub.client, ecs_stub.client
    expect_stack(cfn_stub)
    expect_describe(ecs_stub)
    ecs_stub.add_response(
        "register_task_definition",
        registered(IMAGE, arn=NEW_TASK_DEFINITION, app_name="migration"),
        register_params(IMAGE, app_name="migration", family="prod-migrate"),
    )
    ecs_stub.add_response(
        "run_task", run_task_ok(), {**run_task_params(), "taskDefinition": NEW_TASK_DEFINITION}
    )
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=0), describe_params())

    code = migrate.main(["--stage", "Prod", "--image", IMAGE], cfn=cfn, ecs=ecs)

    assert code == 0
    assert calls == [
        "DescribeStacks",
        "DescribeTaskDefinition",
        "RegisterTaskDefinition",
        "RunTask",
        "DescribeTasks",
    ]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == (
        f"registered {NEW_TASK_DEFINITION} with image {IMAGE}\n{TASK_ARN}\nmigration succeeded\n"
    )


def test_register_failure_exits_1_without_running(
    cfn_stub: Stubber, ecs_stub: Stubber, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cfn, ecs = cfn_stub.client, ecs_stub.client
    expect_stack(cfn_stub)
    expect_describe(ecs_stub)
    ecs_stub.add_client_error(
        "register_task_definition",
        service_error_code="ClientException",
        service_message="Too many revisions",
        http_status_code=400,
        expected_params=register_params(IMAGE, app_name="migration", family="prod-migrate"),
    )

    code = migrate.main(["--stage", "Prod", "--image", IMAGE], cfn=cfn, ecs=ecs)

    assert code == 1
    assert "RunTask" not in calls
    assert capsys.readouterr().err == (
        f"migration not started: cannot register a revision of {TASK_DEFINITION} with image "
        f"{IMAGE}: An error occurred (ClientException) when calling the RegisterTaskDefinition "
        "operation: Too many revisions\n"
    )


def test_missing_migration_container_exits_2(
    cfn_stub: Stubber, ecs_stub: Stubber, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cfn, ecs = cfn_stub.client, ecs_stub.client
    expect_stack(cfn_stub)
    expect_describe(ecs_stub, app_name="app")

    code = migrate.main(["--stage", "Prod", "--image", IMAGE], cfn=cfn, ecs=ecs)

    assert code == 2
    assert calls == ["DescribeStacks", "DescribeTaskDefinition"]
    assert capsys.readouterr().err == (
        f"migration not started: task definition {TASK_DEFINITION} has no container named "
        "'migration' (containers: 'app', 'log-router')\n"
    )


def test_unreadable_task_definition_exits_2(
    cfn: Any, cfn_stub: Stubber, ecs: Any, ecs_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_stack(cfn_stub)
    ecs_stub.add_client_error(
        "describe_task_definition",
        service_error_code="ClientException",
        service_message="Unable to describe task definition.",
        http_status_code=400,
        expected_params={"taskDefinition": TASK_DEFINITION, "include": ["TAGS"]},
    )

    assert migrate.main(["--stage", "Prod", "--image", IMAGE], cfn=cfn, ecs=ecs) == 2
    assert capsys.readouterr().err.startswith(
        f"migration not started: cannot read task definition {TASK_DEFINITION}: "
    )


@pytest.mark.parametrize("image", [f"{REPOSITORY}:unreleased", "bad image", ""])
def test_bad_image_exits_2_without_aws_calls(
    cfn: Any, ecs: Any, calls: list[str], capsys: pytest.CaptureFixture[str], image: str
) -> None:
    assert migrate.main(["--stage", "Prod", f"--image={image}"], cfn=cfn, ecs=ecs) == 2
    assert calls == []
    assert capsys.readouterr().err.startswith("migration not started: ")
