"""Run the database migration task for a stage and wait for it to finish.

Usage: python -m scripts.migrate --stage Prod [--region R] [--timeout S] [--poll S]
                                 [--stack-name NAME]

Everything else (cluster, task definition, network) comes from the outputs of the stage's
compute stack (``<Stage>-Compute`` by default). Exit codes: 0 migration succeeded,
1 migration failed or timed out, 2 stack/outputs missing or unreadable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from l3_constructs.migration_runner.runner import MigrationError, MigrationTask, run_migration

EXIT_OK = 0
EXIT_MIGRATION_FAILED = 1
EXIT_CONFIG_ERROR = 2

OUTPUT_KEYS = (
    "MigrationClusterName",
    "MigrationTaskDefinitionArn",
    "MigrationSubnetIds",
    "MigrationSecurityGroupIds",
    "MigrationAssignPublicIp",
    "MigrationContainerName",
)


class ConfigError(Exception):
    """The stack or one of its outputs is missing or invalid."""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.migrate", description="Run the database migration ECS task."
    )
    parser.add_argument("--stage", required=True, help="stage name, e.g. Prod")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    parser.add_argument("--poll", type=float, default=6.0, help="seconds between checks")
    parser.add_argument("--stack-name", help="stack with the outputs (default <Stage>-Compute)")
    return parser.parse_args(argv)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _load_task(cfn: Any, stack_name: str) -> MigrationTask:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ConfigError(f"cannot read stack {stack_name!r}: {exc}") from exc
    if not stacks:
        raise ConfigError(f"stack {stack_name!r} not found")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    missing = [key for key in OUTPUT_KEYS if not outputs.get(key, "").strip()]
    if missing:
        raise ConfigError(f"stack {stack_name!r} is missing output(s): {', '.join(missing)}")
    assign_public_ip = outputs["MigrationAssignPublicIp"].strip().lower()
    if assign_public_ip not in {"true", "false"}:
        raise ConfigError(
            f"stack {stack_name!r} output MigrationAssignPublicIp must be 'true' or 'false', "
            f"got {outputs['MigrationAssignPublicIp']!r}"
        )
    return MigrationTask(
        cluster=outputs["MigrationClusterName"],
        task_definition=outputs["MigrationTaskDefinitionArn"],
        subnets=_split(outputs["MigrationSubnetIds"]),
        security_groups=_split(outputs["MigrationSecurityGroupIds"]),
        assign_public_ip=assign_public_ip == "true",
        container_name=outputs["MigrationContainerName"],
    )


def main(argv: list[str] | None = None, *, cfn: Any = None, ecs: Any = None) -> int:
    """Run the migration; return the process exit code."""
    args = _parse_args(argv)
    stack_name: str = args.stack_name or f"{args.stage}-Compute"
    try:
        if cfn is None:
            cfn = boto3.client("cloudformation", region_name=args.region)
        task = _load_task(cfn, stack_name)
    except (ConfigError, BotoCoreError) as exc:
        print(f"migration not started: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    try:
        if ecs is None:
            ecs = boto3.client("ecs", region_name=args.region)
        task_arn = run_migration(ecs, task, args.timeout, args.poll)
    except (MigrationError, ClientError, BotoCoreError) as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return EXIT_MIGRATION_FAILED

    print(task_arn)
    print("migration succeeded")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
