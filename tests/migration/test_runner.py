"""Tests for the pure-boto3 migration runner, against Stubber-wrapped ECS clients."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from l3_constructs.migration_runner.runner import (
    MigrationError,
    MigrationTask,
    MigrationTimeout,
    check_migration,
    run_migration,
    start_migration,
)
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

TASK = MigrationTask(
    cluster=CLUSTER,
    task_definition=TASK_DEFINITION,
    subnets=SUBNETS,
    security_groups=SECURITY_GROUPS,
    assign_public_ip=False,
)
STOPPED = "stopCode=EssentialContainerExited, stoppedReason='Essential container in task exited'"


class FakeClock:
    """A monotonic clock that only moves when the runner sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_run_migration_success_after_polling(ecs: Any, ecs_stub: Stubber) -> None:
    clock = FakeClock()
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=0), describe_params())

    arn = run_migration(ecs, TASK, timeout_seconds=60, sleep=clock.sleep, clock=clock)

    assert arn == TASK_ARN
    assert clock.sleeps == [6.0]


def test_start_migration_with_public_ip_and_command_override(ecs: Any, ecs_stub: Stubber) -> None:
    task = MigrationTask(
        cluster=CLUSTER,
        task_definition=TASK_DEFINITION,
        subnets=SUBNETS,
        security_groups=SECURITY_GROUPS,
        assign_public_ip=True,
        container_name="app",
        command=("alembic", "upgrade", "head"),
    )
    expected = run_task_params(
        assign_public_ip="ENABLED",
        started_by="ops",
        command=["alembic", "upgrade", "head"],
        container_name="app",
    )
    ecs_stub.add_response("run_task", run_task_ok(), expected)

    assert start_migration(ecs, task, started_by="ops") == TASK_ARN


def test_start_migration_failures_raise(ecs: Any, ecs_stub: Stubber) -> None:
    response = {
        "tasks": [],
        "failures": [
            {
                "arn": "arn:aws:ecs:ap-northeast-1:123456789012:container-instance/x",
                "reason": "RESOURCE:ENI",
            },
            {"arn": TASK_DEFINITION, "reason": "MISSING", "detail": "inactive revision"},
        ],
    }
    ecs_stub.add_response("run_task", response, run_task_params())

    with pytest.raises(MigrationError) as exc_info:
        start_migration(ecs, TASK)

    assert exc_info.type is MigrationError
    assert str(exc_info.value) == (
        f"Migration task could not be started on cluster {CLUSTER} from {TASK_DEFINITION}: "
        "arn:aws:ecs:ap-northeast-1:123456789012:container-instance/x: RESOURCE:ENI; "
        f"{TASK_DEFINITION}: MISSING (inactive revision)"
    )


def test_start_migration_without_task_raises(ecs: Any, ecs_stub: Stubber) -> None:
    ecs_stub.add_response("run_task", {"tasks": [], "failures": []}, run_task_params())

    with pytest.raises(MigrationError) as exc_info:
        start_migration(ecs, TASK)

    assert exc_info.type is MigrationError
    assert str(exc_info.value).endswith(": no task was returned")


def test_check_migration_running_returns_false(ecs: Any, ecs_stub: Stubber) -> None:
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())

    assert check_migration(ecs, CLUSTER, TASK_ARN) is False


def test_check_migration_non_zero_exit_code(ecs: Any, ecs_stub: Stubber) -> None:
    ecs_stub.add_response(
        "describe_tasks", describe_stopped(exit_code=3, reason="OOM"), describe_params()
    )

    with pytest.raises(MigrationError) as exc_info:
        check_migration(ecs, CLUSTER, TASK_ARN)

    assert exc_info.type is MigrationError
    assert str(exc_info.value) == (
        f"Migration task {TASK_ARN} failed: container 'migration' exited with code 3, "
        f"reason='OOM' ({STOPPED})"
    )


def test_check_migration_stopped_without_exit_code(ecs: Any, ecs_stub: Stubber) -> None:
    stopped_reason = (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "repository not found"
    )
    response = describe_stopped(
        exit_code=None, stop_code="TaskFailedToStart", stopped_reason=stopped_reason
    )
    ecs_stub.add_response("describe_tasks", response, describe_params())

    with pytest.raises(MigrationError) as exc_info:
        check_migration(ecs, CLUSTER, TASK_ARN)

    assert exc_info.type is MigrationError
    assert str(exc_info.value) == (
        f"Migration task {TASK_ARN} stopped before container 'migration' exited "
        f"(stopCode=TaskFailedToStart, stoppedReason={stopped_reason!r})"
    )


def test_check_migration_container_not_found(ecs: Any, ecs_stub: Stubber) -> None:
    ecs_stub.add_response(
        "describe_tasks", describe_stopped(container_name="web"), describe_params()
    )

    with pytest.raises(MigrationError) as exc_info:
        check_migration(ecs, CLUSTER, TASK_ARN)

    assert exc_info.type is MigrationError
    assert str(exc_info.value) == (
        f"Migration task {TASK_ARN} stopped without a container named 'migration' "
        f"(containers: web; {STOPPED})"
    )


def test_check_migration_describe_failure_missing(ecs: Any, ecs_stub: Stubber) -> None:
    response = {"tasks": [], "failures": [{"arn": TASK_ARN, "reason": "MISSING"}]}
    ecs_stub.add_response("describe_tasks", response, describe_params())

    with pytest.raises(MigrationError) as exc_info:
        check_migration(ecs, CLUSTER, TASK_ARN)

    assert exc_info.type is MigrationError
    assert str(exc_info.value) == (
        f"Migration task {TASK_ARN} could not be described: {TASK_ARN}: MISSING"
    )


def test_run_migration_timeout_stops_task(ecs: Any, ecs_stub: Stubber) -> None:
    clock = FakeClock()
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    for _ in range(3):
        ecs_stub.add_response("describe_tasks", describe_running(), describe_params())
    ecs_stub.add_response(
        "stop_task",
        {"task": {"taskArn": TASK_ARN, "lastStatus": "RUNNING"}},
        {"cluster": CLUSTER, "task": TASK_ARN, "reason": "Migration timed out after 10 s"},
    )

    with pytest.raises(MigrationTimeout) as exc_info:
        run_migration(ecs, TASK, timeout_seconds=10, sleep=clock.sleep, clock=clock)

    assert str(exc_info.value) == f"Migration timed out after 10 s; stopped task {TASK_ARN}"
    assert clock.sleeps == [6.0, 4.0]  # the last sleep is cut short to end at the deadline


def test_run_migration_timeout_when_stop_task_fails(ecs: Any, ecs_stub: Stubber) -> None:
    clock = FakeClock()
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    ecs_stub.add_response("describe_tasks", describe_running(), describe_params())
    ecs_stub.add_client_error(
        "stop_task",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=400,
    )

    with pytest.raises(MigrationTimeout) as exc_info:
        run_migration(ecs, TASK, timeout_seconds=0, sleep=clock.sleep, clock=clock)

    assert str(exc_info.value) == (
        f"Migration timed out after 0 s; could not stop task {TASK_ARN}: An error occurred "
        "(AccessDeniedException) when calling the StopTask operation: not allowed"
    )
    assert clock.sleeps == []


def test_run_migration_failure_is_not_a_timeout(ecs: Any, ecs_stub: Stubber) -> None:
    clock = FakeClock()
    ecs_stub.add_response("run_task", run_task_ok(), run_task_params())
    ecs_stub.add_response("describe_tasks", describe_stopped(exit_code=1), describe_params())

    with pytest.raises(MigrationError) as exc_info:
        run_migration(ecs, TASK, timeout_seconds=60, sleep=clock.sleep, clock=clock)

    assert exc_info.type is MigrationError
    assert "exited with code 1" in str(exc_info.value)
