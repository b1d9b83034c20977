"""Run the database migration task for a stage and wait for it to finish.

Usage: python -m release_tools.migrate --stage Prod [--region R] [--timeout S] [--poll S]
                                 [--stack-name NAME] [--image URI]

Everything else (cluster, task definition, network) comes from the outputs of the stage's
compute stack (``<Stage>-Compute`` by default). With ``--image``, the task definition named
by the output ``MigrationTaskDefinitionArn`` is described and a new revision of it, identical
but for the image of the migration container (output ``MigrationContainerName``), is
registered and run instead: the pipeline migrates with the image it is about to release.

Exit codes: 0 migration succeeded; 1 migration failed or timed out, or the new task
definition revision could not be registered; 2 stack/outputs missing or unreadable, invalid
``--image``, or the migration task definition unreadable or without the migration container.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from l3_constructs.migration_runner.runner import MigrationError, MigrationTask, run_migration
from release_tools.task_definitions import (
    ReleaseError,
    register_kwargs_with_image,
    validate_image_uri,
)

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
        prog="python -m release_tools.migrate", description="Run the database migration ECS task."
    )
    parser.add_argument("--stage", required=True, help="stage name, e.g. Prod")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    parser.add_argument("--poll", type=float, default=6.0, help="seconds between checks")
    parser.add_argument("--stack-name", help="stack with the outputs (default <Stage>-Compute)")
    parser.add_argument(
        "--image",
        metavar="URI",
        help="run a new revision of the migration task definition with this container image",
    )
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


class RegisterError(Exception):
    """The new task definition revision could not be registered."""


def _with_image(ecs: Any, task: MigrationTask, image: str) -> MigrationTask:
    """Register a copy of the task's definition with ``image``; return the task using it."""
    try:
        described = ecs.describe_task_definition(
            taskDefinition=task.task_definition, include=["TAGS"]
        )
    except ClientError as exc:
        raise ConfigError(f"cannot read task definition {task.task_definition}: {exc}") from exc
    try:
        kwargs = register_kwargs_with_image(described, task.container_name, image)
    except ReleaseError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        registered = ecs.register_task_definition(**kwargs)
    except ClientError as exc:
        raise RegisterError(
            f"cannot register a revision of {task.task_definition} with image {image}: {exc}"
        ) from exc
    new_arn: str = registered["taskDefinition"]["taskDefinitionArn"]
    return dataclasses.replace(task, task_definition=new_arn)


def main(argv: list[str] | None = None, *, cfn: Any = None, ecs: Any = None) -> int:
    """Run the migration; return the process exit code."""
    args = _parse_args(argv)
    stack_name: str = args.stack_name or f"{args.stage}-Compute"
    if args.image is not None:
        try:
            validate_image_uri(args.image)
        except ReleaseError as exc:
            print(f"migration not started: {exc}", file=sys.stderr)
            return EXIT_CONFIG_ERROR
    try:
        if cfn is None:
            cfn = boto3.client("cloudformation", region_name=args.region)
        task = _load_task(cfn, stack_name)
    except (ConfigError, BotoCoreError) as exc:
        print(f"migration not started: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    if args.image is not None:
        try:
            if ecs is None:
                ecs = boto3.client("ecs", region_name=args.region)
            task = _with_image(ecs, task, args.image)
        except ConfigError as exc:
            print(f"migration not started: {exc}", file=sys.stderr)
            return EXIT_CONFIG_ERROR
        except (RegisterError, ClientError, BotoCoreError) as exc:
            print(f"migration not started: {exc}", file=sys.stderr)
            return EXIT_MIGRATION_FAILED
        print(f"registered {task.task_definition} with image {args.image}", flush=True)

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
