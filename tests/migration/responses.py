"""Builders for ECS API requests and responses used with botocore Stubber."""

from __future__ import annotations

from typing import Any

CLUSTER = "prod-cluster"
TASK_DEFINITION = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-migrate:7"
TASK_ARN = "arn:aws:ecs:ap-northeast-1:123456789012:task/prod-cluster/0123456789abcdef"
SUBNETS = ("subnet-aaa", "subnet-bbb")
SECURITY_GROUPS = ("sg-111",)


def run_task_params(
    *,
    assign_public_ip: str = "DISABLED",
    started_by: str = "migration-runner",
    command: list[str] | None = None,
    container_name: str = "migration",
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "cluster": CLUSTER,
        "taskDefinition": TASK_DEFINITION,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": started_by,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(SUBNETS),
                "securityGroups": list(SECURITY_GROUPS),
                "assignPublicIp": assign_public_ip,
            }
        },
    }
    if command is not None:
        params["overrides"] = {"containerOverrides": [{"name": container_name, "command": command}]}
    return params


def run_task_ok() -> dict[str, Any]:
    return {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "PROVISIONING"}], "failures": []}


def describe_params() -> dict[str, Any]:
    return {"cluster": CLUSTER, "tasks": [TASK_ARN]}


def describe_running() -> dict[str, Any]:
    return {
        "tasks": [
            {
                "taskArn": TASK_ARN,
                "lastStatus": "RUNNING",
                "containers": [{"name": "migration", "lastStatus": "RUNNING"}],
            }
        ],
        "failures": [],
    }


def describe_stopped(
    *,
    exit_code: int | None = 0,
    reason: str | None = None,
    stop_code: str = "EssentialContainerExited",
    stopped_reason: str = "Essential container in task exited",
    container_name: str = "migration",
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": container_name, "lastStatus": "STOPPED"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason is not None:
        container["reason"] = reason
    return {
        "tasks": [
            {
                "taskArn": TASK_ARN,
                "lastStatus": "STOPPED",
                "stopCode": stop_code,
                "stoppedReason": stopped_reason,
                "containers": [container],
            }
        ],
        "failures": [],
    }
