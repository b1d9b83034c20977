"""Lambda handlers for a CDK ``custom_resources.Provider`` that runs the database migration.

``on_event`` starts the migration task on Create/Update; the Provider framework then calls
``is_complete`` until it returns ``IsComplete: True`` (or its total timeout expires). A raised
``MigrationError`` fails the custom resource with that message, and so fails the deployment.

Deployed with this directory as the Lambda code root (``handler.on_event``), where ``runner``
is a top-level module; imported in tests as ``l3_constructs.migration_runner.handler``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from . import runner
else:
    try:
        from . import runner
    except ImportError:  # Lambda code root: no parent package, runner.py sits next to us
        import runner

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


@functools.cache
def ecs_client() -> Any:
    """The ECS client, created on first use and reused by warm invocations."""
    return boto3.client("ecs")


def _parse_bool(name: str, value: object) -> bool:
    # CloudFormation passes every scalar property to custom resources as a string.
    text = str(value).strip().lower()
    if text not in {"true", "false"}:
        raise runner.MigrationError(f"{name} must be 'true' or 'false', got {value!r}")
    return text == "true"


def _migration_task(props: Mapping[str, Any]) -> runner.MigrationTask:
    command = props.get("Command")
    return runner.MigrationTask(
        cluster=str(props["Cluster"]),
        task_definition=str(props["TaskDefinition"]),
        subnets=tuple(str(s) for s in props["Subnets"]),
        security_groups=tuple(str(g) for g in props["SecurityGroups"]),
        assign_public_ip=_parse_bool("AssignPublicIp", props.get("AssignPublicIp", "false")),
        container_name=str(props.get("ContainerName") or runner.DEFAULT_CONTAINER_NAME),
        command=tuple(str(c) for c in command) if command else None,
    )


def on_event(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Start the migration on Create/Update; do nothing on Delete."""
    request_type = event["RequestType"]
    if request_type == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}

    properties = event["ResourceProperties"]
    task = _migration_task(properties)
    task_arn = runner.start_migration(ecs_client(), task, started_by="cfn-migration")
    logger.info("%s: started migration task %s", request_type, task_arn)
    data: dict[str, Any] = {"TaskArn": task_arn}
    if "TimeoutSeconds" in properties:
        # is_complete stops the task once this passes (the framework's own total timeout,
        # a little later, is only the backstop: it would leave the task running).
        data["Deadline"] = str(now() + float(properties["TimeoutSeconds"]))
    # The id must stay the same across Updates: if an Update returned a new id, CloudFormation
    # would treat it as a replacement and later send a Delete for the "old" resource. That is
    # harmless here (Delete is a no-op) but a misleading replacement; each run is a new task,
    # whose ARN is exposed as the TaskArn attribute instead.
    return {"PhysicalResourceId": f"migration-{task.cluster}", "Data": data}


def is_complete(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Report whether the migration task has finished successfully; raise if it failed."""
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}

    # The Provider framework merges on_event's response (including Data) into this event.
    task_arn = str(event["Data"]["TaskArn"])
    properties = event["ResourceProperties"]
    task = _migration_task(properties)
    done = runner.check_migration(ecs_client(), task.cluster, task_arn, task.container_name)
    if done:
        logger.info("migration task %s succeeded", task_arn)
    elif "Deadline" in event["Data"] and now() >= float(event["Data"]["Deadline"]):
        timeout = float(properties["TimeoutSeconds"])
        runner.stop_overdue_migration(ecs_client(), task.cluster, task_arn, timeout)
    return {"IsComplete": done}


def now() -> float:
    """Wall-clock seconds (the deadline crosses Lambda invocations); patched in tests."""
    return time.time()
