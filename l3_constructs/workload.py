"""What every workload (a service, a scheduled job) is made of: its ECR repository, its
encrypted log group, its image (a Docker asset or an ECR tag, or the tag the pipeline last
released), and a Fargate task definition whose `app` container runs it with its settings,
secrets and optional X-Ray daemon.

`build_task` takes the workload's construct as scope, so every construct id (and logical id)
is the one it had inside `PlatformService`. Knows nothing of environments.

Every container is locked down (`add_locked_down_container`, which `PlatformMigration` uses
too; AWS Security Hub ECS.4, ECS.5, ECS.20): a read-only root filesystem with a writable
scratch volume (Fargate ephemeral storage) at each of `writable_paths`, a non-root `user`, no
privileged mode, an init process (PID 1 reaps zombies and forwards signals), every Linux
capability dropped but `add_capabilities`. ECS's own Service Connect proxy container is not
in the task definition: ECS manages it and it cannot be configured here.

On Fargate a bind-mount volume starts owned by root with mode 0755 unless the image declares
the same path as a `VOLUME`, whose ownership and contents ECS copies into it: an image that
runs as a non-root user must declare `VOLUME` for each writable path (the samples declare
`/tmp`, which the base image leaves 1777). AWS documents ECS Exec as unsupported with a
read-only root filesystem: its SSM agent writes under /var/lib/amazon/ssm and
/var/log/amazon/ssm, so a service with exec enabled needs those in `writable_paths` (the
known workaround; not verified here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from aws_cdk import CfnCondition, CfnParameter, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.limits import UNRELEASED
from l3_constructs.retention import retention_days
from l3_constructs.shared import Architecture, ec2_task_definition, fargate_task_definition

CONTAINER_NAME = "app"
XRAY_CONTAINER_NAME = "xray-daemon"
#: The user of AWS's X-Ray daemon image (public.ecr.aws/xray/aws-xray-daemon): its Dockerfile
#: creates `xray` with uid 10001 (`adduser -D -u 10001 xray`, `USER xray`, FROM scratch).
#: Set numerically so ECS and Security Hub see a non-root user without reading the image; the
#: daemon only reads its binary, config and CA bundle, which any user may.
XRAY_DAEMON_USER = "10001:10001"
#: The daemon writes no files (it logs to stdout, buffers in memory); /tmp is its scratch
#: volume all the same (root-owned 0755: the image declares no VOLUME).
XRAY_DAEMON_WRITABLE_PATHS: tuple[str, ...] = ("/tmp",)  # noqa: S108 - a path in the container

#: A user that is root: uid 0 or the name `root`, with or without a group.
_ROOT_USER_RE = re.compile(r"^(0|root)(:.*)?$")
#: ECS's limit on a task volume's name.
_MAX_VOLUME_NAME = 255

#: The platform a Docker asset is built for must match the tasks' architecture (read on use:
#: importing the constructs calls nothing in jsii, `synthesis/template_checks`).
_ASSET_PLATFORMS: dict[Architecture, Callable[[], Platform]] = {
    "X86_64": lambda: Platform.LINUX_AMD64,
    "ARM64": lambda: Platform.LINUX_ARM64,
}


@dataclass(frozen=True)
class ImageSource:
    kind: Literal["asset", "ecr"] = "asset"
    #: asset: a directory with a Dockerfile (built and published by `cdk deploy`).
    directory: str | None = None
    #: ecr: an existing repository's name and the (immutable) tag to run.
    repository_name: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class ContainerHealthCheck:
    """ECS's check inside the container: one string runs as CMD-SHELL, several as CMD."""

    command: tuple[str, ...]
    interval_seconds: int = 30
    timeout_seconds: int = 5
    retries: int = 3
    start_period_seconds: int = 0


@dataclass(frozen=True)
class DecryptGrant:
    """A customer-managed key that encrypts one of the workload's secrets: the execution
    role may decrypt with it only through `via_service` (`secretsmanager` or `ssm`)."""

    key_arn: str
    via_service: Literal["secretsmanager", "ssm"]


@dataclass(frozen=True)
class TaskProps:
    """The task of a workload: what `build_task` makes."""

    #: The workload's name (a service's Service Connect name, a job's name).
    name: str
    image: ImageSource
    cpu: int = 256
    memory_mib: int = 512
    architecture: Architecture = "ARM64"
    #: The port the container listens on (a named port mapping); None: it listens on none.
    port: int | None = 8080
    #: The command; None runs the image's default.
    command: tuple[str, ...] | None = None
    #: Plain environment variables (values may be CDK tokens); secrets go in `secrets`.
    environment: Mapping[str, str] = field(default_factory=dict)
    container_health_check: ContainerHealthCheck | None = None
    log_retention_days: int = 30
    ecr_keep_images: int = 30
    #: Seconds between SIGTERM and SIGKILL when a task stops (Fargate: 2-120).
    stop_timeout_seconds: int = 30
    #: An SSM parameter (`ReleaseRecord`) naming the tag of `repository` to run, resolved
    #: at every deployment; while it holds `UNRELEASED`, `image` runs. None: `image` always.
    release_parameter_name: str | None = None
    #: Tags of `repository` that may move (e.g. a pipeline's `prod-latest`); others are
    #: immutable.
    mutable_tags: tuple[str, ...] = ()
    #: AWS X-Ray: a daemon sidecar the app sends segments to (AWS_XRAY_DAEMON_ADDRESS) and
    #: the task role's grant to upload them.
    tracing: bool = False
    xray_daemon_image: str = "public.ecr.aws/xray/aws-xray-daemon:3.x"
    #: Keys of customer-managed-key secrets, decrypted only through their service.
    decrypt_grants: tuple[DecryptGrant, ...] = ()
    #: The container's user (uid[:gid] or name); never root.
    user: str = "10001:10001"
    #: Writable scratch volumes; the root filesystem is read-only.
    writable_paths: tuple[str, ...] = ("/tmp",)  # noqa: S108 - a path in the container
    #: Linux capabilities added back; every other one is dropped.
    add_capabilities: tuple[str, ...] = ()
    #: Run on EC2 container instances (an EC2 task definition) instead of Fargate.
    ec2: bool = False
    #: EC2 only: `bridge` maps the port to a dynamic host port on the instance.
    network_mode: Literal["awsvpc", "bridge"] = "awsvpc"


@dataclass(frozen=True)
class WorkloadTask:
    repository: ecr.Repository
    log_group: logs.LogGroup
    image: ecs.ContainerImage
    #: Changes exactly when the image does (the asset's hash, `repository:tag`, or the
    #: released tag's deploy-time expression).
    image_id: str
    task_definition: ecs.TaskDefinition
    container: ecs.ContainerDefinition
    tracing_container: ecs.ContainerDefinition | None


class Workload(Construct):
    """Base of `PlatformService` and `PlatformJob`: `_build_task` makes the task in this
    construct and exposes `repository`, `log_group`, `image`, `image_id`,
    `task_definition`, `container` and `tracing_container`."""

    def _build_task(
        self, props: TaskProps, *, key: kms.IKey, secrets: Mapping[str, ecs.Secret]
    ) -> None:
        task = build_task(self, props, key=key, secrets=secrets)
        self.repository, self.log_group = task.repository, task.log_group
        self.image, self.image_id = task.image, task.image_id
        self.task_definition, self.container = task.task_definition, task.container
        self.tracing_container = task.tracing_container


def build_task(
    scope: Construct, props: TaskProps, *, key: kms.IKey, secrets: Mapping[str, ecs.Secret]
) -> WorkloadTask:
    """The repository, log group, image and task definition of one workload, in `scope`."""
    repository = ecr.Repository(
        scope,
        "Repository",
        image_scan_on_push=True,
        image_tag_mutability=ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION
        if props.mutable_tags
        else ecr.TagMutability.IMMUTABLE,
        image_tag_mutability_exclusion_filters=[
            ecr.ImageTagMutabilityExclusionFilter.wildcard(tag) for tag in props.mutable_tags
        ]
        or None,
        encryption=ecr.RepositoryEncryption.KMS,
        encryption_key=key,
        lifecycle_rules=[
            ecr.LifecycleRule(
                description=f"Keep the last {props.ecr_keep_images} images",
                max_image_count=props.ecr_keep_images,
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    if props.mutable_tags:
        skip_checkov(
            repository,
            "CKV_AWS_51",
            "Every image tag is immutable except the moving tag(s) "
            f"{', '.join(props.mutable_tags)} the pipeline re-points on each release "
            "(IMMUTABLE_WITH_EXCLUSION); checkov accepts only IMMUTABLE.",
        )
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        encryption_key=key,
        retention=retention_days(props.log_retention_days),
        removal_policy=RemovalPolicy.RETAIN,
    )
    configured = _image(scope, props)
    image, image_id = configured.image, configured.image_id
    if props.release_parameter_name:
        image, image_id = _released_image(
            scope, props.name, props.release_parameter_name, configured, repository
        )
    task_definition = (
        ec2_task_definition(
            scope,
            "TaskDefinition",
            cpu=props.cpu,
            memory_mib=props.memory_mib,
            network_mode=props.network_mode,
        )
        if props.ec2
        else fargate_task_definition(
            scope,
            "TaskDefinition",
            cpu=props.cpu,
            memory_mib=props.memory_mib,
            architecture=props.architecture,
        )
    )
    environment = dict(props.environment)
    if props.port is not None:
        environment = {"PORT": str(props.port), **environment}
    # Adding the secrets lets the execution role read exactly these secrets; the image
    # lets it pull exactly this image.
    container = add_locked_down_container(
        task_definition,
        CONTAINER_NAME,
        user=props.user,
        writable_paths=props.writable_paths,
        add_capabilities=props.add_capabilities,
        image=image,
        command=list(props.command) if props.command else None,
        port_mappings=[
            ecs.PortMapping(
                container_port=props.port,
                # Bridge: a dynamic host port (ECS's ephemeral range) for each task.
                host_port=0 if props.network_mode == "bridge" else None,
                name=props.name,
                app_protocol=cast("ecs.AppProtocol", ecs.AppProtocol.http),
            )
        ]
        if props.port is not None
        else None,
        logging=ecs.LogDrivers.aws_logs(stream_prefix=CONTAINER_NAME, log_group=log_group),
        environment=environment,
        secrets=dict(secrets),
        health_check=_health_check(props.container_health_check),
        stop_timeout=Duration.seconds(props.stop_timeout_seconds),
    )
    _grant_decrypt(task_definition, props.decrypt_grants)
    tracing = _add_tracing(task_definition, container, log_group, props) if props.tracing else None
    acknowledge(
        task_definition,
        "AwsSolutions-ECS2",
        "These environment variables carry plain, non-secret settings (the workload's "
        "environment, PORT); every credential reaches the container as an ECS secret.",
    )
    acknowledge(
        task_definition.obtain_execution_role(),
        ("AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy"),
        "CDK's grants to the task execution role: pull this one image (ecr:"
        "GetAuthorizationToken has no resource-level form), write this log group and read "
        "this workload's own secrets; the role serves this task definition alone.",
    )
    return WorkloadTask(
        repository=repository,
        log_group=log_group,
        image=image,
        image_id=image_id,
        task_definition=task_definition,
        container=container,
        tracing_container=tracing,
    )


def add_locked_down_container(
    task_definition: ecs.TaskDefinition,
    name: str,
    *,
    user: str,
    writable_paths: Sequence[str],
    add_capabilities: Sequence[str] = (),
    **options: Any,
) -> ecs.ContainerDefinition:
    """Container `name` of `task_definition` (`options`: the rest of `add_container`'s), with a
    read-only root filesystem, running as the non-root `user`, unprivileged, with an init
    process and no Linux capability but `add_capabilities`; each of `writable_paths` is a
    read/write mount of its own task volume `<name>-<path>` (a bind mount with no host path:
    Fargate ephemeral storage, gone with the task)."""
    if not user or _ROOT_USER_RE.match(user):
        raise ValueError(f"container {name} must run as a non-root user, got {user!r}")
    capabilities = [_capability(name, c) for c in add_capabilities]
    volumes = _scratch_volumes(name, writable_paths)
    linux_parameters = ecs.LinuxParameters(
        task_definition, f"{name}-linux-parameters", init_process_enabled=True
    )
    linux_parameters.drop_capabilities(ecs.Capability.ALL)
    if capabilities:
        linux_parameters.add_capabilities(*capabilities)
    container = task_definition.add_container(
        name,
        readonly_root_filesystem=True,
        user=user,
        privileged=False,
        linux_parameters=linux_parameters,
        **options,
    )
    for path, volume in volumes.items():
        task_definition.add_volume(name=volume)
        container.add_mount_points(
            ecs.MountPoint(container_path=path, source_volume=volume, read_only=False)
        )
    return container


def _capability(container: str, name: str) -> ecs.Capability:
    try:
        capability = ecs.Capability[name]
    except KeyError:
        raise ValueError(f"container {container}: {name!r} is not a Linux capability") from None
    if capability is ecs.Capability.ALL:
        raise ValueError(f"container {container} may not add back ALL capabilities")
    return capability


def _scratch_volumes(container: str, paths: Sequence[str]) -> dict[str, str]:
    """Path -> the name of its task volume: the container's name and the path's words."""
    volumes: dict[str, str] = {}
    for path in paths:
        words = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
        if not path.startswith("/") or not words:
            raise ValueError(f"container {container}: {path!r} is not an absolute directory")
        volume = f"{container}-{words}"
        if len(volume) > _MAX_VOLUME_NAME:
            raise ValueError(f"container {container}: writable path {path!r} is too long")
        if volume in volumes.values():
            raise ValueError(f"container {container}: writable path {path!r} repeats another")
        volumes[path] = volume
    return volumes


def _grant_decrypt(task_definition: ecs.TaskDefinition, grants: Sequence[DecryptGrant]) -> None:
    """kms:Decrypt on each customer-managed key of the secrets, only through the service
    holding the secret (what ECS calls on the execution role's behalf)."""
    region = Stack.of(task_definition).region
    for via in ("secretsmanager", "ssm"):
        keys = sorted({g.key_arn for g in grants if g.via_service == via})
        if not keys:
            continue
        task_definition.obtain_execution_role().add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"DecryptSecretsVia{via.capitalize()}",
                actions=["kms:Decrypt"],
                resources=keys,
                conditions={"StringEquals": {"kms:ViaService": f"{via}.{region}.amazonaws.com"}},
            )
        )


def _add_tracing(
    task_definition: ecs.TaskDefinition,
    container: ecs.ContainerDefinition,
    log_group: logs.ILogGroup,
    props: TaskProps,
) -> ecs.ContainerDefinition:
    """The X-Ray daemon next to the app: not essential (tracing must never stop the app),
    UDP 2000 on the task's loopback (bridge: over a link), logs next to the app's, locked
    down like the app (its own /tmp, no capability added back: it binds an unprivileged
    port)."""
    bridge = props.network_mode == "bridge"
    daemon = add_locked_down_container(
        task_definition,
        XRAY_CONTAINER_NAME,
        user=XRAY_DAEMON_USER,
        writable_paths=XRAY_DAEMON_WRITABLE_PATHS,
        image=ecs.ContainerImage.from_registry(props.xray_daemon_image),
        essential=False,
        cpu=32,
        memory_reservation_mib=256,
        # Bridge: no host port (the app reaches it over the link, not through the host).
        port_mappings=None
        if bridge
        else [ecs.PortMapping(container_port=2000, protocol=ecs.Protocol.UDP, name="xray")],
        logging=ecs.LogDrivers.aws_logs(stream_prefix="xray", log_group=log_group),
    )
    if bridge:
        # Containers of a bridge task share no loopback: the app reaches it by name.
        container.add_link(daemon)
        container.add_environment("AWS_XRAY_DAEMON_ADDRESS", f"{XRAY_CONTAINER_NAME}:2000")
    else:
        container.add_environment("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")
    task_definition.add_to_task_role_policy(
        iam.PolicyStatement(
            sid="XRayDaemon",
            actions=[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            resources=["*"],
        )
    )
    acknowledge(
        task_definition.task_role,
        "AwsSolutions-IAM5[Resource::*]",
        "The X-Ray daemon's upload and sampling actions have no resource-level "
        "permissions (AWS's own AWSXRayDaemonWriteAccess policy uses * too).",
    )
    acknowledge(
        task_definition.task_role,
        "NIST.800.53.R5-IAMNoInlinePolicy",
        "The task role's inline policy holds only this workload's grants (X-Ray daemon, "
        "storage bucket, queues); the role serves this one task definition.",
    )
    return daemon


def _released_image(
    scope: Construct,
    name: str,
    parameter_name: str,
    configured: _ConfiguredImage,
    repository: ecr.IRepository,
) -> tuple[ecs.ContainerImage, str]:
    """The released tag of `repository` (CloudFormation reads the parameter at every
    deployment), or the configured image while nothing has been released."""
    tag = CfnParameter(
        scope,
        "ReleasedImageTag",
        type="AWS::SSM::Parameter::Value<String>",
        default=parameter_name,
        description=f"The image tag the delivery pipeline last released to {name} "
        f"(read from SSM at every deployment); '{UNRELEASED}' runs the configured image",
    )
    unreleased = CfnCondition(
        scope,
        "Unreleased",
        expression=Fn.condition_equals(tag.value_as_string, UNRELEASED),
    )
    image_name = Fn.condition_if(
        unreleased.logical_id,
        configured.uri,
        repository.repository_uri_for_tag(tag.value_as_string),
    ).to_string()
    return _ReleasedImage(image_name, (configured.repository, repository)), image_name


def _health_check(check: ContainerHealthCheck | None) -> ecs.HealthCheck | None:
    if check is None:
        return None
    command = (
        ["CMD-SHELL", check.command[0]] if len(check.command) == 1 else ["CMD", *check.command]
    )
    return ecs.HealthCheck(
        command=command,
        interval=Duration.seconds(check.interval_seconds),
        timeout=Duration.seconds(check.timeout_seconds),
        retries=check.retries,
        start_period=Duration.seconds(check.start_period_seconds),
    )


@dataclass(frozen=True)
class _ConfiguredImage:
    image: ecs.ContainerImage
    #: Changes exactly when the image does (the asset's content hash, or `repository:tag`).
    image_id: str
    uri: str
    repository: ecr.IRepository


def _image(scope: Construct, props: TaskProps) -> _ConfiguredImage:
    """The configured container image. A migration keyed on its `image_id` re-runs only for
    a new image."""
    image = props.image
    if image.kind == "asset" and image.directory:
        asset = ecr_assets.DockerImageAsset(
            scope,
            "ImageAsset",
            directory=image.directory,
            platform=_ASSET_PLATFORMS[props.architecture](),
        )
        return _ConfiguredImage(
            ecs.ContainerImage.from_docker_image_asset(asset),
            asset.asset_hash,
            asset.image_uri,
            asset.repository,
        )
    if image.repository_name and image.tag:
        repository = ecr.Repository.from_repository_name(
            scope, "ImageRepository", image.repository_name
        )
        return _ConfiguredImage(
            ecs.ContainerImage.from_ecr_repository(repository, image.tag),
            f"{image.repository_name}:{image.tag}",
            repository.repository_uri_for_tag(image.tag),
            repository,
        )
    raise ValueError(f"incomplete image source {image!r}")


class _ReleasedImage(ecs.ContainerImage):
    """An image chosen at deploy time among `repositories` (a CloudFormation condition):
    every task definition using it may pull from each of them, and from nothing else."""

    def __init__(self, image_name: str, repositories: tuple[ecr.IRepository, ...]) -> None:
        super().__init__()
        self._image_name = image_name
        self._repositories = repositories

    def bind(
        self, scope: Construct, container_definition: ecs.ContainerDefinition
    ) -> ecs.ContainerImageConfig:
        role = container_definition.task_definition.obtain_execution_role()
        for repository in self._repositories:
            repository.grant_pull(role)
        return ecs.ContainerImageConfig(image_name=self._image_name)


def validate_task(props: TaskProps) -> None:
    image = props.image
    if image.kind == "asset" and not image.directory:
        raise ValueError("an asset image needs `directory` (a folder with a Dockerfile)")
    if image.kind == "ecr" and not (image.repository_name and image.tag):
        raise ValueError("an ECR image needs `repository_name` and `tag`")
    if not 2 <= props.stop_timeout_seconds <= 120:
        raise ValueError("stop_timeout_seconds must be 2-120 (Fargate's range)")
    if props.network_mode == "bridge" and not props.ec2:
        raise ValueError(f"{props.name}: bridge networking needs EC2 (Fargate is awsvpc only)")
