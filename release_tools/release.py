"""Release an image tag to an ECS service or a job, then record it in its release parameter.

Usage: python -m release_tools.release --cluster C --service S --container app
                                 --repository-uri URI --tag TAG --parameter NAME
                                 [--region R] [--timeout 1800] [--poll 15]
       python -m release_tools.release --task-definition-family F --container app
                                 --repository-uri URI --tag TAG --parameter NAME [--region R]

The pipeline's Deploy step. For a service (``--cluster``/``--service``), it registers a new
revision of the service's current task definition, identical but for the image of
``--container`` (``URI:TAG``), points the service at it and waits until ECS reports the
deployment COMPLETED. For a job (``--task-definition-family``: register only), it registers
that revision from the family's latest one, and that is all: the job's schedule runs the
family's latest revision, so its next run uses the new image; there is no service to update
and nothing to wait for. Only then is ``TAG`` written to the SSM parameter ``--parameter``:
that parameter is the single record of the released tag, read by the compute stack at every
``cdk deploy``, so it must only name an image the workload actually runs.

Exit codes: 0 released; 1 release failed (registering, updating the service, or the
deployment failed, was rolled back or timed out, or the parameter could not be written);
2 bad arguments, or the service, family or task definition is missing or unusable (nothing
was changed).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from release_tools.task_definitions import (
    ReleaseError,
    register_kwargs_with_image,
    validate_image_tag,
)

EXIT_OK = 0
EXIT_RELEASE_FAILED = 1
EXIT_CONFIG_ERROR = 2


class ConfigError(Exception):
    """The arguments, service, family or task definition cannot be used; nothing was
    changed."""


class DeploymentError(Exception):
    """The release was attempted and did not succeed."""


def _say(message: str) -> None:
    print(message, flush=True)


#: `--timeout` and `--poll` of a service release, when not given.
DEFAULT_TIMEOUT_SECONDS = 1800.0
DEFAULT_POLL_SECONDS = 15.0
#: A task definition family name (ECS's rule): no `:revision`, no ARN.
_FAMILY_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.release",
        description="Deploy an image tag to an ECS service (--cluster and --service), or "
        "register it in a job's task definition family (--task-definition-family), and "
        "record it in SSM.",
    )
    target = parser.add_argument_group(
        "target", "either --cluster and --service, or --task-definition-family"
    )
    target.add_argument("--cluster", help="ECS cluster name or ARN (with --service)")
    target.add_argument("--service", help="ECS service name or ARN (with --cluster)")
    target.add_argument(
        "--task-definition-family",
        help="register only: a new revision of this family's latest (a job's), no service",
    )
    parser.add_argument("--container", required=True, help="container whose image changes")
    parser.add_argument(
        "--repository-uri", required=True, help="image repository URI, without tag or digest"
    )
    parser.add_argument("--tag", required=True, help="image tag to release")
    parser.add_argument("--parameter", required=True, help="SSM parameter recording the tag")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"seconds to wait for the service's deployment (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--poll",
        type=float,
        help=f"seconds between checks of the deployment (default {DEFAULT_POLL_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    if args.task_definition_family is not None:
        if args.cluster is not None or args.service is not None:
            parser.error(
                "--task-definition-family (register only) and --cluster/--service (release "
                "to a service) exclude each other"
            )
        if args.timeout is not None or args.poll is not None:
            parser.error(
                "--timeout and --poll wait for a service's deployment; "
                "--task-definition-family registers only and waits for nothing"
            )
        if not _FAMILY_RE.fullmatch(args.task_definition_family):
            parser.error(
                f"--task-definition-family {args.task_definition_family!r} is not a family "
                "name (1-255 letters, digits, '-' and '_'; no revision, no ARN): the new "
                "revision copies the family's latest"
            )
    elif args.cluster is None and args.service is None:
        parser.error(
            "give --cluster and --service (release to a service), or "
            "--task-definition-family (register only, for a job)"
        )
    elif args.cluster is None:
        parser.error("--service needs --cluster")
    elif args.service is None:
        parser.error("--cluster needs --service")
    else:
        if args.timeout is None:
            args.timeout = DEFAULT_TIMEOUT_SECONDS
        if args.poll is None:
            args.poll = DEFAULT_POLL_SECONDS
    return args


def image_uri(repository_uri: str, tag: str) -> str:
    """``repository_uri:tag`` after checking both parts; raise ConfigError if one is invalid."""
    try:
        validate_image_tag(tag)
    except ReleaseError as exc:
        raise ConfigError(str(exc)) from exc
    last_segment = repository_uri.rsplit("/", 1)[-1]
    if (
        not repository_uri.strip()
        or any(c.isspace() for c in repository_uri)
        or ":" in last_segment
        or "@" in last_segment
    ):
        raise ConfigError(
            f"invalid repository URI {repository_uri!r}: expected e.g. "
            "123456789012.dkr.ecr.REGION.amazonaws.com/NAME, without tag or digest"
        )
    return f"{repository_uri}:{tag}"


def _describe_service(ecs: Any, cluster: str, service: str) -> Mapping[str, Any]:
    response = ecs.describe_services(cluster=cluster, services=[service])
    services: list[Mapping[str, Any]] = response.get("services") or []
    if not services:
        failures = response.get("failures") or []
        reason = ", ".join(str(f.get("reason", "unknown")) for f in failures) or "not returned"
        raise ConfigError(f"service {service!r} not found in cluster {cluster!r} ({reason})")
    return services[0]


def current_task_definition(ecs: Any, cluster: str, service: str) -> str:
    """The task definition ARN of an ACTIVE, ECS-controlled service; raise ConfigError if none."""
    try:
        described = _describe_service(ecs, cluster, service)
    except ClientError as exc:
        raise ConfigError(f"cannot read service {service!r} in cluster {cluster!r}: {exc}") from exc
    status = described.get("status")
    if status != "ACTIVE":
        raise ConfigError(f"service {service!r} in cluster {cluster!r} is {status}, not ACTIVE")
    controller = (described.get("deploymentController") or {}).get("type", "ECS")
    if controller != "ECS":
        raise ConfigError(
            f"service {service!r} uses the {controller} deployment controller; "
            "only ECS rolling deployments are supported"
        )
    task_definition = described.get("taskDefinition")
    if not task_definition:
        raise ConfigError(f"service {service!r} has no task definition")
    return str(task_definition)


def new_revision_kwargs(
    ecs: Any, task_definition: str, container: str, image: str
) -> dict[str, Any]:
    """Describe ``task_definition`` and return register kwargs with ``image`` in ``container``."""
    try:
        described = ecs.describe_task_definition(taskDefinition=task_definition, include=["TAGS"])
    except ClientError as exc:
        raise ConfigError(f"cannot read task definition {task_definition}: {exc}") from exc
    try:
        return register_kwargs_with_image(described, container, image)
    except ReleaseError as exc:
        raise ConfigError(str(exc)) from exc


def check_deployment(
    ecs: Any, cluster: str, service: str, task_definition: str
) -> tuple[bool, str]:
    """(done, progress line) for the deployment of ``task_definition``; raise if it failed."""
    described = _describe_service(ecs, cluster, service)
    deployments: list[Mapping[str, Any]] = described.get("deployments") or []
    ours = next((d for d in deployments if d.get("taskDefinition") == task_definition), None)
    if ours is None:
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
        if primary is not None:
            raise DeploymentError(
                f"the deployment of {task_definition} was rolled back (or replaced): service "
                f"{service!r} is on {primary.get('taskDefinition')}"
            )
        return False, f"waiting for the deployment of {task_definition} to appear"

    deployment_id = ours.get("id", "<no id>")
    state = ours.get("rolloutState")
    progress = (
        f"deployment {deployment_id}: {state or ours.get('status')} "
        f"(running {ours.get('runningCount', 0)}/{ours.get('desiredCount', 0)}, "
        f"pending {ours.get('pendingCount', 0)}, failed {ours.get('failedTasks', 0)})"
    )
    if state == "FAILED":
        reason = ours.get("rolloutStateReason") or "no reason given"
        raise DeploymentError(f"deployment {deployment_id} of {task_definition} failed: {reason}")
    if state == "COMPLETED":
        return True, progress
    if state is None:  # no rollout state reported: steady once it alone runs every task
        steady = (
            ours.get("status") == "PRIMARY"
            and len(deployments) == 1
            and ours.get("runningCount") == ours.get("desiredCount")
        )
        return steady, progress
    return False, progress


def wait_for_deployment(
    ecs: Any,
    cluster: str,
    service: str,
    task_definition: str,
    *,
    timeout_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll until the deployment of ``task_definition`` completes; raise DeploymentError if not."""
    deadline = clock() + timeout_seconds
    last_progress = ""
    while True:
        done, progress = check_deployment(ecs, cluster, service, task_definition)
        if progress != last_progress:
            _say(progress)
            last_progress = progress
        if done:
            return
        remaining = deadline - clock()
        if remaining <= 0:
            seconds = int(timeout_seconds) if timeout_seconds.is_integer() else timeout_seconds
            raise DeploymentError(
                f"timed out after {seconds} s waiting for the deployment of {task_definition} "
                f"on service {service!r}; the deployment may still be running"
            )
        sleep(min(poll_seconds, remaining))


def main(
    argv: list[str] | None = None,
    *,
    ecs: Any = None,
    ssm: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run the release; return the process exit code."""
    args = _parse_args(argv)
    register_only = args.task_definition_family is not None
    try:
        if not register_only and (args.timeout < 0 or args.poll <= 0):
            raise ConfigError("--timeout must be >= 0 and --poll > 0")
        image = image_uri(args.repository_uri, args.tag)
        if ecs is None:
            ecs = boto3.client("ecs", region_name=args.region)
        if ssm is None:
            ssm = boto3.client("ssm", region_name=args.region)
        if register_only:
            # The family's latest ACTIVE revision: the one the job's next run would start.
            current = args.task_definition_family
        else:
            current = current_task_definition(ecs, args.cluster, args.service)
            _say(f"service {args.service!r} runs {current}")
        kwargs = new_revision_kwargs(ecs, current, args.container, image)
    except (ConfigError, BotoCoreError) as exc:
        print(f"release not started: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    try:
        registered = ecs.register_task_definition(**kwargs)
        new_arn: str = registered["taskDefinition"]["taskDefinitionArn"]
        _say(f"registered {new_arn} with image {image}")
        if register_only:
            _say(f"the next run of family {args.task_definition_family!r} uses {new_arn}")
        else:
            ecs.update_service(cluster=args.cluster, service=args.service, taskDefinition=new_arn)
            _say(f"updated service {args.service!r}; waiting for the deployment of {new_arn}")
            wait_for_deployment(
                ecs,
                args.cluster,
                args.service,
                new_arn,
                timeout_seconds=args.timeout,
                poll_seconds=args.poll,
                sleep=sleep,
                clock=clock,
            )
    except (DeploymentError, ConfigError, ClientError, BotoCoreError) as exc:
        print(
            f"release failed: {exc}; parameter {args.parameter} still holds the previous tag",
            file=sys.stderr,
        )
        return EXIT_RELEASE_FAILED

    try:
        ssm.put_parameter(Name=args.parameter, Value=args.tag, Type="String", Overwrite=True)
    except (ClientError, BotoCoreError) as exc:
        runs = (
            f"the latest revision of family {args.task_definition_family!r} is {new_arn}, "
            "which its next run uses,"
            if register_only
            else f"service {args.service!r} runs {new_arn}"
        )
        print(
            f"release failed: {runs} but parameter {args.parameter} could not be set to "
            f"{args.tag!r}: {exc}; set it before the next cdk deploy, which would otherwise "
            "deploy the previous tag again",
            file=sys.stderr,
        )
        return EXIT_RELEASE_FAILED

    _say(f"released {image}: parameter {args.parameter} = {args.tag}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
