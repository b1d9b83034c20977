"""Tests for the custom-resource Provider handlers (on_event / is_complete)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from l3_constructs.migration_runner import handler
from l3_constructs.migration_runner.runner import MigrationError, MigrationTimeout
from tests.migration.responses import (
    CLUSTER,
    SECURITY_GROUPS,
    SUBNETS,
    TASK_ARN,
    TASK_DEFINITION,
    describe_params,
    describe_running,
    describe_stopped,
    run_task_ok,
    run_task_params,
)

PHYSICAL_ID = f"migration-{CLUSTER}"


@pytest.fixture(autouse=True)
def patched_ecs(monkeypatch: pytest.MonkeyPatch, ecs: Any) -> None:
    monkeypatch.setattr(handler, "ecs_client", lambda: ecs)


def make_event(request_type: str, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "ServiceToken": "arn:aws:lambda:ap-northeast-1:123456789012:function:provider",
        "Cluster": CLUSTER,
        "TaskDefinition": TASK_DEFINITION,
        "Subnets": list(SUBNETS),
        "SecurityGroups": list(SECURITY_GROUPS),
        "AssignPublicIp": "false",
        "ContainerName": "migration",
    }
    props.update(overrides)
    event: dict[str, Any] = {"RequestType": request_type, "ResourceProperties": props}
    if request_type != "Create":
        event["PhysicalResourceId"] = PHYSICAL_ID
    return event


def with_task_arn(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the Provider framework passes it to isComplete."""
    return {**event, "PhysicalResourceId": PHYSICAL_ID, "Data": {"TaskArn": TASK_ARN}}


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_on_event_starts_task(request_type: str, ecs_stub: Stubber) -> None:
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params(started_by="cfn-migration"))

    result = handler.on_event(make_event(request_type), None)

    assert result == {"PhysicalResourceId": PHYSICAL_ID, "Data": {"TaskArn": TASK_ARN}}


def test_on_event_public_ip_and_command_override(ecs_stub: Stubber) -> None:
    expected = run_task_params(
        assign_public_ip="ENABLED",
        started_by="cfn-migration",
        command=["python", "-m", "app.migrate"],
        container_name="app",
    )
    ecs_stub.add_response("run_task", run_task_ok(), expected)
    event = make_event(
        "Update",
        AssignPublicIp="true",
        ContainerName="app",
        Command=["python", "-m", "app.migrate"],
    )

    assert handler.on_event(event, None)["Data"] == {"TaskArn": TASK_ARN}


def test_on_event_rejects_invalid_assign_public_ip(ecs_stub: Stubber) -> None:
    with pytest.raises(MigrationError) as exc_info:
        handler.on_event(make_event("Create", AssignPublicIp="yes"), None)

    assert str(exc_info.value) == "AssignPublicIp must be 'true' or 'false', got 'yes'"


def test_on_event_start_failure_fails_resource(ecs_stub: Stubber) -> None:
    response = {"failures": [{"arn": TASK_DEFINITION, "reason": "MISSING"}]}
    ecs_stub.add_response("run_task", response, run_task_params(started_by="cfn-migration"))

    with pytest.raises(MigrationError) as exc_info:
        handler.on_event(make_event("Create"), None)

    assert str(exc_info.value) == (
        f"Migration task could not be started on cluster {CLUSTER} from {TASK_DEFINITION}: "
        f"{TASK_DEFINITION}: MISSING"
    )


def test_on_event_delete_starts_nothing(ecs_stub: Stubber) -> None:
    assert handler.on_event(make_event("Delete"), None) == {"PhysicalResourceId": PHYSICAL_ID}


def test_is_complete_delete(ecs_stub: Stubber) -> None:
    assert handler.is_complete(make_event("Delete"), None) == {"IsComplete": True}


def test_is_complete_running(ecs_stub: Stubber) -> None:
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())

    assert handler.is_complete(with_task_arn(make_event("Create")), None) == {"IsComplete": False}


def test_is_complete_success(ecs_stub: Stubber) -> None:
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=0), describe_params())

    assert handler.is_complete(with_task_arn(make_event("Update")), None) == {"IsComplete": True}


def test_is_complete_uses_container_name(ecs_stub: Stubber) -> None:
    response = describe_stopped(exit_code=0, container_name="app")
    ecs_stub.add_response("describe_tasks", response, describe_params())
    event = with_task_arn(make_event("Create", ContainerName="app"))

    assert handler.is_complete(event, None) == {"IsComplete": True}


def test_is_complete_failure_raises(ecs_stub: Stubber) -> None:
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=2), describe_params())

    with pytest.raises(MigrationError) as exc_info:
        handler.is_complete(with_task_arn(make_event("Create")), None)

    assert exc_info.type is MigrationError
    assert str(exc_info.value) == (
        f"Migration task {TASK_ARN} failed: container 'migration' exited with code 2 "
        "(stopCode=EssentialContainerExited, "
        "stoppedReason='Essential container in task exited')"
    )


def test_handler_imports_from_lambda_code_root() -> None:
    """As Lambda code, the directory itself is on sys.path and runner is top-level."""
    code_root = Path(handler.__file__).parent
    result = subprocess.run(
        [sys.executable, "-c", "import handler; print(handler.runner.__name__)"],
        cwd=code_root,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "runner"


def test_on_event_records_the_deadline(ecs_stub: Stubber, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "now", lambda: 1000.0)
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params(started_by="cfn-migration"))
    result = handler.on_event(make_event("Create", TimeoutSeconds="900"), None)
    assert result["Data"] == {"TaskArn": TASK_ARN, "Deadline": "1900.0"}


def test_is_complete_keeps_polling_before_the_deadline(
    ecs_stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler, "now", lambda: 1899.0)
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())
    event = with_task_arn(make_event("Update", TimeoutSeconds="900"))
    event["Data"]["Deadline"] = "1900.0"
    assert handler.is_complete(event, None) == {"IsComplete": False}


def test_is_complete_stops_an_overdue_migration(
    ecs_stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler, "now", lambda: 1900.0)
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())
    ecs_stub.add_response(
        "stop_task",
        {},
        {"cluster": CLUSTER, "task": TASK_ARN, "reason": "Migration timed out after 900 s"},
    )
    event = with_task_arn(make_event("Update", TimeoutSeconds="900"))
    event["Data"]["Deadline"] = "1900.0"
    with pytest.raises(MigrationTimeout) as raised:
        handler.is_complete(event, None)
    assert str(raised.value) == f"Migration timed out after 900 s; stopped task {TASK_ARN}"
