"""Builders for ECS requests and responses used by the pipeline-script tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
PREFIX = f"arn:aws:ecs:ap-northeast-1:{ACCOUNT}"
CLUSTER = "prod-cluster"
SERVICE = "prod-web"
FAMILY = "prod-web"
OLD_ARN = f"{PREFIX}:task-definition/{FAMILY}:41"
NEW_ARN = f"{PREFIX}:task-definition/{FAMILY}:42"
REPOSITORY = f"{ACCOUNT}.dkr.ecr.ap-northeast-1.amazonaws.com/web"
OLD_IMAGE = f"{REPOSITORY}:v1.0.0"
SIDECAR_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/prod-web-task"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/prod-web-execution"
CREATED = datetime(2024, 1, 1, tzinfo=UTC)


def container_definitions(app_image: str = OLD_IMAGE, app_name: str = "app") -> list[Any]:
    return [
        {
            "name": app_name,
            "image": app_image,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "STAGE", "value": "Prod"}],
            "secrets": [
                {"name": "DB_PASSWORD", "valueFrom": f"arn:aws:secretsmanager:x:{ACCOUNT}:s"}
            ],
            "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}},
        },
        {
            "name": "log-router",
            "image": SIDECAR_IMAGE,
            "essential": True,
            "firelensConfiguration": {"type": "fluentbit"},
        },
    ]


def task_definition(
    *, arn: str = OLD_ARN, app_image: str = OLD_IMAGE, app_name: str = "app"
) -> dict[str, Any]:
    """A described task definition: writable fields plus the read-only ones ECS adds."""
    family, revision = arn.rsplit("/", 1)[-1].rsplit(":", 1)
    return {
        "taskDefinitionArn": arn,
        "family": family,
        "revision": int(revision),
        "taskRoleArn": TASK_ROLE,
        "executionRoleArn": EXECUTION_ROLE,
        "networkMode": "awsvpc",
        "containerDefinitions": container_definitions(app_image, app_name),
        "volumes": [],
        "placementConstraints": [],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 21},
        "enableFaultInjection": False,
        "status": "ACTIVE",
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-iam-role"}],
        "registeredAt": CREATED,
        "registeredBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/cfn-exec/session",
    }


def described(**kwargs: Any) -> dict[str, Any]:
    """A describe_task_definition(include=["TAGS"]) response."""
    return {
        "taskDefinition": task_definition(**kwargs),
        "tags": [{"key": "Stage", "value": "Prod"}, {"key": "Project", "value": "web"}],
    }


def register_params(image: str, app_name: str = "app", family: str = FAMILY) -> dict[str, Any]:
    """What register_task_definition must receive: the writable fields, new image, tags."""
    return {
        "family": family,
        "taskRoleArn": TASK_ROLE,
        "executionRoleArn": EXECUTION_ROLE,
        "networkMode": "awsvpc",
        "containerDefinitions": container_definitions(image, app_name),
        "volumes": [],
        "placementConstraints": [],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 21},
        "enableFaultInjection": False,
        "tags": [{"key": "Stage", "value": "Prod"}, {"key": "Project", "value": "web"}],
    }


def registered(image: str, arn: str = NEW_ARN, app_name: str = "app") -> dict[str, Any]:
    return {
        "taskDefinition": task_definition(arn=arn, app_image=image, app_name=app_name),
        "tags": [{"key": "Stage", "value": "Prod"}, {"key": "Project", "value": "web"}],
    }


def deployment(
    task_definition_arn: str,
    *,
    status: str = "PRIMARY",
    rollout_state: str | None = "IN_PROGRESS",
    reason: str | None = None,
    running: int = 0,
    desired: int = 2,
    deployment_id: str = "ecs-svc/1111",
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": deployment_id,
        "status": status,
        "taskDefinition": task_definition_arn,
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": desired - running,
        "failedTasks": 0,
        "createdAt": CREATED,
        "updatedAt": CREATED,
    }
    if rollout_state is not None:
        result["rolloutState"] = rollout_state
    if reason is not None:
        result["rolloutStateReason"] = reason
    return result


def service(
    deployments: list[dict[str, Any]] | None = None,
    *,
    task_definition_arn: str = OLD_ARN,
    status: str = "ACTIVE",
    controller: str | None = None,
) -> dict[str, Any]:
    """A describe_services response for SERVICE."""
    described_service: dict[str, Any] = {
        "serviceName": SERVICE,
        "serviceArn": f"{PREFIX}:service/{CLUSTER}/{SERVICE}",
        "clusterArn": f"{PREFIX}:cluster/{CLUSTER}",
        "status": status,
        "taskDefinition": task_definition_arn,
        "desiredCount": 2,
        "runningCount": 2,
        "deployments": deployments
        if deployments is not None
        else [deployment(task_definition_arn, rollout_state="COMPLETED", running=2)],
    }
    if controller is not None:
        described_service["deploymentController"] = {"type": controller}
    return {"services": [described_service], "failures": []}


def describe_services_params() -> dict[str, Any]:
    return {"cluster": CLUSTER, "services": [SERVICE]}
