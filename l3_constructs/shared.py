"""Small pieces more than one L3 construct needs, kept in one place."""

from __future__ import annotations

from typing import Literal

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

Architecture = Literal["X86_64", "ARM64"]

CPU_ARCHITECTURES: dict[Architecture, ecs.CpuArchitecture] = {
    "X86_64": ecs.CpuArchitecture.X86_64,
    "ARM64": ecs.CpuArchitecture.ARM64,
}


def allow_cloudwatch_logs(key: kms.Key, sid: str) -> None:
    """Let CloudWatch Logs in the key's region use `key` for this account's log groups only
    (encryption context = a log-group ARN), as encrypted log groups require."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


def fargate_task_definition(
    scope: Construct, construct_id: str, *, cpu: int, memory_mib: int, architecture: Architecture
) -> ecs.FargateTaskDefinition:
    """A Linux Fargate task definition of the given size and CPU architecture."""
    return ecs.FargateTaskDefinition(
        scope,
        construct_id,
        cpu=cpu,
        memory_limit_mib=memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=CPU_ARCHITECTURES[architecture],
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
    )
