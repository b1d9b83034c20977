"""Run a one-shot database-migration task on ECS Fargate and report whether it succeeded.

Pure boto3 core shared by the CloudFormation custom-resource Lambda (``handler.py``) and the
operator CLI (``release_tools/migrate.py``). It is bundled alone as Lambda code, so it must only
import the standard library (the ECS client is passed in by the caller).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

DEFAULT_CONTAINER_NAME = "migration"


class MigrationError(Exception):
    """The migration could not be run or did not succeed; the message is shown to users."""


class MigrationTimeout(MigrationError):  # noqa: N818 - public name fixed by callers
    """The migration did not finish in time; the task has been asked to stop."""


class EcsClient(Protocol):
    """The subset of a boto3 ECS client that the runner uses."""

    def run_task(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_tasks(self, **kwargs: Any) -> dict[str, Any]: ...

    def stop_task(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class MigrationTask:
    """Where and how to run the migration task."""

    cluster: str
    task_definition: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool
    container_name: str = DEFAULT_CONTAINER_NAME
    command: tuple[str, ...] | None = None  # overrides the container's command when given


def _describe_failures(failures: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for failure in failures:
        text = f"{failure.get('arn', '<no arn>')}: {failure.get('reason', 'unknown reason')}"
        if failure.get("detail"):
            text += f" ({failure['detail']})"
        parts.append(text)
    return "; ".join(parts)


def start_migration(
    ecs: EcsClient, task: MigrationTask, started_by: str = "migration-runner"
) -> str:
    """Start the migration task and return its ARN."""
    params: dict[str, Any] = {
        "cluster": task.cluster,
        "taskDefinition": task.task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": started_by,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(task.subnets),
                "securityGroups": list(task.security_groups),
                "assignPublicIp": "ENABLED" if task.assign_public_ip else "DISABLED",
            }
        },
    }
    if task.command is not None:
        params["overrides"] = {
            "containerOverrides": [{"name": task.container_name, "command": list(task.command)}]
        }
    response = ecs.run_task(**params)
    failures = response.get("failures") or []
    tasks = response.get("tasks") or []
    if failures or not tasks:
        detail = _describe_failures(failures) if failures else "no task was returned"
        raise MigrationError(
            f"Migration task could not be started on cluster {task.cluster} "
            f"from {task.task_definition}: {detail}"
        )
    task_arn: str = tasks[0]["taskArn"]
    return task_arn


def check_migration(
    ecs: EcsClient,
    cluster: str,
    task_arn: str,
    container_name: str = DEFAULT_CONTAINER_NAME,
) -> bool:
    """Return False while the task runs, True once it stopped with exit code 0; raise otherwise."""
    response = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])
    failures = response.get("failures") or []
    tasks = response.get("tasks") or []
    if failures or not tasks:
        detail = _describe_failures(failures) if failures else "no task was returned"
        raise MigrationError(f"Migration task {task_arn} could not be described: {detail}")

    described = tasks[0]
    if described.get("lastStatus") != "STOPPED":
        return False

    stopped = (
        f"stopCode={described.get('stopCode', 'unknown')}, "
        f"stoppedReason={described.get('stoppedReason', 'unknown')!r}"
    )
    containers = described.get("containers") or []
    container = next((c for c in containers if c.get("name") == container_name), None)
    if container is None:
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        raise MigrationError(
            f"Migration task {task_arn} stopped without a container named {container_name!r} "
            f"(containers: {names}; {stopped})"
        )

    exit_code = container.get("exitCode")
    if exit_code is None:
        raise MigrationError(
            f"Migration task {task_arn} stopped before container {container_name!r} "
            f"exited ({stopped})"
        )
    if exit_code != 0:
        reason = f", reason={container['reason']!r}" if container.get("reason") else ""
        raise MigrationError(
            f"Migration task {task_arn} failed: container {container_name!r} exited with "
            f"code {exit_code}{reason} ({stopped})"
        )
    return True


def run_migration(
    ecs: EcsClient,
    task: MigrationTask,
    timeout_seconds: float,
    poll_seconds: float = 6.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Start the migration and wait for it; stop it and raise MigrationTimeout if it overruns."""
    task_arn = start_migration(ecs, task)
    deadline = clock() + timeout_seconds
    while not check_migration(ecs, task.cluster, task_arn, task.container_name):
        remaining = deadline - clock()
        if remaining <= 0:
            stop_overdue_migration(ecs, task.cluster, task_arn, timeout_seconds)
        sleep(min(poll_seconds, remaining))
    return task_arn


def stop_overdue_migration(
    ecs: EcsClient, cluster: str, task_arn: str, timeout_seconds: float
) -> NoReturn:
    """Stop a migration that overran its timeout and raise MigrationTimeout saying so."""
    seconds = int(timeout_seconds) if float(timeout_seconds).is_integer() else timeout_seconds
    reason = f"Migration timed out after {seconds} s"
    try:
        ecs.stop_task(cluster=cluster, task=task_arn, reason=reason)
    except Exception as exc:  # the timeout is the error to report; add why stop failed
        raise MigrationTimeout(f"{reason}; could not stop task {task_arn}: {exc}") from exc
    raise MigrationTimeout(f"{reason}; stopped task {task_arn}")
