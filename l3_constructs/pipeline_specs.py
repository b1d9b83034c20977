"""What `PlatformPipeline`'s CodeBuild steps run (buildspecs) and may do (IAM statements).

Split out of `l3_constructs.pipeline`: plain functions, no constructs of their own. Every value
that may be a token (repository names, ARNs, bucket names) reaches a buildspec through an
environment variable of its project, never through the buildspec text.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from aws_cdk import Aws, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from l3_constructs.pipeline_props import BuildSettings, ReleasedService, StaticFiles

_ECS_TASKS = "ecs-tasks.amazonaws.com"
#: What runs the Python steps (publish, migrate, release, invalidate, smoke): Python 3.11.
PYTHON_VERSION = "3.11"
INSTALL_SCRIPT_REQUIREMENTS = "python3 -m pip install --quiet -r requirements-pipeline.txt"
#: The Build step's output artifact (one directory per service with static files), an extra
#: input of Publish and Retire: `$CODEBUILD_SRC_DIR_Static/<service>` there.
STATIC_ARTIFACT = "Static"
#: Where Build gathers that artifact, relative to the source directory.
STATIC_WORKDIR = ".pipeline-static"
#: The Publish step's exported variable: when its upload began (UTC, ISO 8601).
PUBLISHED_AT = "PUBLISHED_AT"
#: `release_tools.smoke --timeout`: seconds one request may take.
SMOKE_REQUEST_TIMEOUT_SECONDS = 10


def env_key(service: str) -> str:
    """The suffix of a service's environment variables: `my-api` -> `MY_API`."""
    return service.upper().replace("-", "_")


def repository_uri(repository: ecr.IRepository) -> str:
    """`<account>.dkr.ecr.<region>.<suffix>/<name>`. Not `repository.repository_uri`: from
    another stack, that splits the ARN the stack exports, and Fn::Split refuses
    Fn::GetStackOutput (cfn-lint E1022)."""
    return f"{registry(repository)}/{repository.repository_name}"


def registry(repository: ecr.IRepository) -> str:
    return f"{repository.env.account}.dkr.ecr.{repository.env.region}.{Aws.URL_SUFFIX}"


# --- Buildspecs ---------------------------------------------------------------------------------


def build_variables(services: Sequence[ReleasedService], latest_tag: str) -> dict[str, str]:
    """The Build project's environment: each service's repository name and URI."""
    variables = {
        "REGISTRY": registry(services[0].repository),
        "LATEST_TAG": latest_tag,
        "DOCKER_BUILDKIT": "1",
    }
    for service in services:
        key = env_key(service.name)
        variables[f"REPOSITORY_NAME_{key}"] = service.repository.repository_name
        variables[f"REPOSITORY_URI_{key}"] = repository_uri(service.repository)
    return variables


def build_spec(
    build: BuildSettings,
    services: Sequence[ReleasedService],
    static_files: Sequence[StaticFiles],
    *,
    s3_cache: bool,
) -> dict[str, Any]:
    """Install, test and build the app once; then build (or reuse) and push every service's
    image; then gather the static files into the `Static` artifact."""
    built = {service.name for service in services}
    phases: dict[str, Any] = {
        "install": {
            "commands": [
                "aws ecr get-login-password | docker login --username AWS --password-stdin "
                '"$REGISTRY"',
                *build.install_commands,
            ]
        }
    }
    if build.test_commands:
        phases["pre_build"] = {"commands": list(build.test_commands)}
    phases["build"] = {
        "commands": [
            *build.build_commands,
            *(c for service in services for c in image_commands(service, s3_cache=s3_cache)),
            *(static_command(static, built=static.service in built) for static in static_files),
        ]
    }
    spec: dict[str, Any] = {"version": "0.2", "env": {"shell": "bash"}, "phases": phases}
    if static_files:
        # The action's only output artifact: the buildspec's primary `artifacts` section.
        spec["artifacts"] = {"base-directory": STATIC_WORKDIR, "files": ["**/*"]}
    if build.cache_paths:
        spec["cache"] = {"paths": list(build.cache_paths)}
    return spec


def image_commands(service: ReleasedService, *, s3_cache: bool) -> list[str]:
    """Build `service`'s image and push it as `<commit>` (or, when a re-run finds that tag in
    its repository, whose tags are immutable, pull it), then push it as the latest tag."""
    key = env_key(service.name)
    image = f'"$REPOSITORY_URI_{key}:$IMAGE_TAG"'
    latest = f'"$REPOSITORY_URI_{key}:$LATEST_TAG"'
    # s3 cache: the previous image's layers, through BuildKit's inline cache.
    cache_from = f" --cache-from {latest} --build-arg BUILDKIT_INLINE_CACHE=1" if s3_cache else ""
    # Absolute: build_commands may have changed the directory (one shell for all phases).
    context = f'"$CODEBUILD_SRC_DIR"/{shlex.quote(service.directory)}'
    build_or_reuse = "\n".join(
        (
            f'if out=$(aws ecr describe-images --repository-name "$REPOSITORY_NAME_{key}" '
            '--image-ids imageTag="$IMAGE_TAG" 2>&1); then',
            f"  echo {image} exists: reusing it",
            f"  docker pull {image}",
            'elif [[ "$out" == *ImageNotFoundException* ]]; then',
            f"  docker build{cache_from} -t {image} {context}",
            f"  docker push {image}",
            "else",
            '  echo "$out" >&2; exit 1',
            "fi",
        )
    )
    return [build_or_reuse, f"docker tag {image} {latest}", f"docker push {latest}"]


def static_command(static: StaticFiles, *, built: bool) -> str:
    """Gather `static`'s files into `<STATIC_WORKDIR>/<service>/`: out of the service's new
    image (`from_image`, when this pipeline `built` it), else from `directory`; fail if there
    are none."""
    target = f'"$CODEBUILD_SRC_DIR/{STATIC_WORKDIR}/{static.service}"'
    lines = [f"target={target}", 'rm -rf "$target" && mkdir -p "$target" || exit 1']
    if static.from_image is not None and built:
        source = f"{static.from_image} of its image"
        image = f'"$REPOSITORY_URI_{env_key(static.service)}:$IMAGE_TAG"'
        lines += [
            # Created, never started: `true` stands in for an image without a command.
            f"container=$(docker create {image} true) || exit 1",
            f'docker cp "$container":{shlex.quote(static.from_image.rstrip("/") + "/.")} '
            '"$target/"; copied=$?',
            'docker rm "$container" > /dev/null',
        ]
    else:
        assert static.directory is not None  # validate_wiring: from_image needs `built`
        source = static.directory
        lines += [
            f'cp -R "$CODEBUILD_SRC_DIR"/{shlex.quote(static.directory.rstrip("/") + "/.")} '
            '"$target/"; copied=$?'
        ]
    lines += [
        'if [ "$copied" -ne 0 ] || [ -z "$(ls -A "$target")" ]; then',
        f"  echo {shlex.quote(f'{static.service}: no static files in {source}')} >&2; exit 1",
        "fi",
    ]
    return "\n".join(lines)


def script_spec(
    commands: Iterable[str], *, exported_variables: Sequence[str] = ()
) -> codebuild.BuildSpec:
    """A step running `release_tools.*` modules from the source artifact."""
    env: dict[str, Any] = {"shell": "bash"}
    if exported_variables:
        env["exported-variables"] = list(exported_variables)
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": env,
            "phases": {
                "install": {
                    "runtime-versions": {"python": PYTHON_VERSION},
                    "commands": [INSTALL_SCRIPT_REQUIREMENTS],
                },
                "build": {"commands": list(commands)},
            },
        }
    )


def publish_commands(
    phase: Literal["upload", "retire"], static_files: Sequence[StaticFiles], region: str
) -> list[str]:
    """`release_tools.publish_static --phase <phase>` for every service's static files, from the
    `Static` artifact, into the bucket named by `$STATIC_BUCKET`."""
    commands = []
    if phase == "upload":
        # Before the first upload: Retire leaves alone what later executions upload after it.
        commands.append(f'export {PUBLISHED_AT}="$(date -u +%Y-%m-%dT%H:%M:%SZ)"')
    for static in static_files:
        command = (
            f'python3 -m release_tools.publish_static --phase {phase} --bucket "$STATIC_BUCKET" '
            f"--region {shlex.quote(region)} --prefix {shlex.quote(static.prefix)} "
            f'--directory "$CODEBUILD_SRC_DIR_{STATIC_ARTIFACT}/{static.service}"'
        )
        if phase == "retire":
            command += f' --keep-since "${PUBLISHED_AT}"'
        commands.append(command)
    return commands


def smoke_command(urls: Sequence[str], attempts: int, interval: int) -> str:
    flags = " ".join(f"--url {shlex.quote(url)}" for url in urls)
    return (
        f"python3 -m release_tools.smoke {flags} --attempts {attempts} --interval {interval} "
        f"--timeout {SMOKE_REQUEST_TIMEOUT_SECONDS}"
    )


def smoke_seconds(urls: Sequence[str], attempts: int, interval: int) -> int:
    """The longest the smoke test can take: every URL's every attempt times out."""
    return len(urls) * attempts * (interval + SMOKE_REQUEST_TIMEOUT_SECONDS)


# --- IAM ----------------------------------------------------------------------------------------


def task_definitions_arn(stack: Stack, task_definition: ecs.TaskDefinition) -> str:
    """Every revision of `task_definition`'s family."""
    return stack.format_arn(
        service="ecs", resource="task-definition", resource_name=f"{task_definition.family}:*"
    )


def register_statements(
    family_arn: str, task_definition: ecs.TaskDefinition
) -> list[iam.PolicyStatement]:
    """Describe a task definition and register a revision of it (tags copied), passing
    exactly its own task and execution roles to ECS tasks."""
    return register_all_statements([(family_arn, task_definition)])


def register_all_statements(
    families: Sequence[tuple[str, ecs.TaskDefinition]],
) -> list[iam.PolicyStatement]:
    """`register_statements` for several (family ARN, task definition) pairs at once: tag
    revisions of these families only, pass only their own task and execution roles."""
    roles = [
        role.role_arn
        for _, task_definition in families
        for role in (task_definition.task_role, task_definition.execution_role)
        if role is not None
    ]
    return [
        iam.PolicyStatement(
            sid="ReadAndRegisterTaskDefinitions",
            actions=["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="TagRegisteredTaskDefinitions",
            actions=["ecs:TagResource"],
            resources=[family_arn for family_arn, _ in families],
            conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        ),
        iam.PolicyStatement(
            sid="PassTaskRoles",
            actions=["iam:PassRole"],
            resources=roles,
            conditions={"StringEquals": {"iam:PassedToService": _ECS_TASKS}},
        ),
    ]


def run_task_statements(
    stack: Stack, family_arn: str, cluster: ecs.ICluster
) -> tuple[list[iam.PolicyStatement], str]:
    """Run a task of `family_arn`'s family on `cluster` only, then watch or stop it
    (`release_tools.migrate`); and the ARN of the cluster's tasks (for its finding)."""
    tasks_arn = stack.format_arn(
        service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
    )
    statements = [
        iam.PolicyStatement(
            sid="RunMigrationTask",
            actions=["ecs:RunTask"],
            resources=[family_arn],
            conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
        ),
        iam.PolicyStatement(
            sid="WatchMigrationTask",
            actions=["ecs:DescribeTasks", "ecs:StopTask"],
            resources=[tasks_arn],
        ),
    ]
    return statements, tasks_arn


def stack_arn(stack: Stack, stack_name: str) -> str:
    """Every stack of this name (the ARN ends in the id CloudFormation makes at creation)."""
    return stack.format_arn(
        service="cloudformation", resource="stack", resource_name=f"{stack_name}/*"
    )


def record_statement(parameter_arn: str) -> iam.PolicyStatement:
    """Read and write one release record (`release_tools.release --parameter`)."""
    return iam.PolicyStatement(
        sid="RecordReleasedTag",
        actions=["ssm:GetParameter", "ssm:PutParameter"],
        resources=[parameter_arn],
    )


def invalidate_statement(stack: Stack, distribution_id: str) -> iam.PolicyStatement:
    """Invalidate paths of this one distribution and wait for it (`release_tools.invalidate`)."""
    return iam.PolicyStatement(
        sid="InvalidateDistribution",
        actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
        resources=[
            stack.format_arn(
                service="cloudfront",
                region="",
                resource="distribution",
                resource_name=distribution_id,
            )
        ],
    )


def static_objects(bucket_arn: str, static_files: Sequence[StaticFiles]) -> list[str]:
    """The keys under each service's prefix, and nothing else of the bucket."""
    return [f"{bucket_arn}/{static.prefix}/*" for static in static_files]


def static_statements(
    phase: Literal["upload", "retire"], bucket_arn: str, static_files: Sequence[StaticFiles]
) -> list[iam.PolicyStatement]:
    """Exactly what `release_tools.publish_static --phase <phase>` calls: upload, PutObject;
    retire, ListObjectsV2 of the prefix, HeadObject and a tagged CopyObject onto itself."""
    objects = static_objects(bucket_arn, static_files)
    if phase == "upload":
        return [
            iam.PolicyStatement(
                sid="UploadStaticFiles", actions=["s3:PutObject"], resources=objects
            )
        ]
    return [
        iam.PolicyStatement(
            sid="ListStaticPrefixes",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{s.prefix}/*" for s in static_files]}},
        ),
        iam.PolicyStatement(
            sid="MarkSupersededStaticFiles",
            actions=["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
            resources=objects,
        ),
    ]


def environment_variables(
    variables: Mapping[str, str],
) -> dict[str, codebuild.BuildEnvironmentVariable]:
    return {k: codebuild.BuildEnvironmentVariable(value=v) for k, v in variables.items()}
