"""Every container is locked down (AWS Security Hub ECS.4, ECS.5, ECS.20): read-only root
filesystem with a scratch volume at each configured writable path, a non-root user, no
privileged mode, an init process, every Linux capability dropped but the configured ones.

Checked on every task definition of every stage's Compute stack: each service's and job's
(`app`, and with tracing the `xray-daemon` sidecar) and the migration's (`migration`, locked
down like the service whose image it runs). ECS's Service Connect proxy is not in the task
definition: ECS manages it. The sample images must fit: a numeric non-root USER, no bytecode
written at run time, and `/tmp` declared a VOLUME so its Fargate scratch volume is writable.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config.models import EnvironmentConfig
from config.services import Service
from l3_constructs.migration import CONTAINER_NAME as MIGRATION_CONTAINER
from l3_constructs.workload import (
    CONTAINER_NAME,
    XRAY_CONTAINER_NAME,
    XRAY_DAEMON_USER,
    XRAY_DAEMON_WRITABLE_PATHS,
)
from stacks.compute_stack import ECS_EXEC_PATHS
from tests.conftest import NEW_STAGE, ROOT, SHIPPED_STAGES, Synth
from tests.helpers import props, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
SAMPLES = ("api", "web")
_ROOT_USER = re.compile(r"^(0|root)(:.*)?$")


def _owner(config: EnvironmentConfig, logical_id: str) -> Service:
    """The service a task definition belongs to: the migration's runs its owner's image; any
    other's logical id starts with its service's construct id (the name without dashes)."""
    if logical_id.startswith("Migration"):
        return config.services[config.migration.service]
    owners = [name for name in config.services if logical_id.startswith(name.replace("-", ""))]
    assert owners, f"task definition {logical_id} belongs to no service"
    return config.services[max(owners, key=len)]


def _expected(service: Service, container: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(user, writable paths, added capabilities) a container of `service`'s task has."""
    if container == XRAY_CONTAINER_NAME:
        return XRAY_DAEMON_USER, XRAY_DAEMON_WRITABLE_PATHS, ()
    assert container in (CONTAINER_NAME, MIGRATION_CONTAINER), container
    paths = service.writable_paths
    if container == CONTAINER_NAME and service.enable_execute_command:
        # ECS Exec's SSM agent writes there (the migration task has no exec).
        paths = tuple(dict.fromkeys((*paths, *ECS_EXEC_PATHS)))
    return service.user, paths, service.add_capabilities


def _containers(synth: Synth, stage: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(task definition logical id, its properties, container) for every container."""
    template = synth.template(stage, "Compute")
    return [
        (logical_id, props(task), container)
        for logical_id, task in resources(template, "AWS::ECS::TaskDefinition").items()
        for container in props(task)["ContainerDefinitions"]
    ]


def test_every_kind_of_container_is_checked(synth: Synth) -> None:
    names = {c["Name"] for stage in STAGES for _, _, c in _containers(synth, stage)}
    assert names == {CONTAINER_NAME, XRAY_CONTAINER_NAME, MIGRATION_CONTAINER}
    for stage in STAGES:
        config = synth.configs[stage]
        logical_ids = {lid for lid, _, _ in _containers(synth, stage)}
        # One task definition per service (ECS service or job) and the migration's.
        assert len(logical_ids) == len(config.services) + 1, stage
        owners = {id(_owner(config, lid)) for lid in logical_ids if not lid.startswith("Mig")}
        assert owners == {id(s) for s in config.services.values()}, stage
        tracing = config.observability.tracing
        sidecars = [c for _, _, c in _containers(synth, stage) if c["Name"] == XRAY_CONTAINER_NAME]
        assert len(sidecars) == (len(config.services) if tracing else 0), stage


@pytest.mark.parametrize("stage", STAGES)
def test_root_filesystem_read_only_non_root_unprivileged(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    for logical_id, _, container in _containers(synth, stage):
        where = (stage, logical_id, container["Name"])
        user, _, _ = _expected(_owner(config, logical_id), container["Name"])
        assert container["ReadonlyRootFilesystem"] is True, where
        assert container["User"] == user, where
        assert container["User"], where
        assert not _ROOT_USER.match(container["User"]), where
        assert container.get("Privileged", False) is False, where


@pytest.mark.parametrize("stage", STAGES)
def test_init_process_and_capabilities(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    for logical_id, _, container in _containers(synth, stage):
        where = (stage, logical_id, container["Name"])
        _, _, added = _expected(_owner(config, logical_id), container["Name"])
        linux = container["LinuxParameters"]
        assert linux["InitProcessEnabled"] is True, where
        assert linux["Capabilities"]["Drop"] == ["ALL"], where
        assert linux["Capabilities"].get("Add", []) == list(added), where


@pytest.mark.parametrize("stage", STAGES)
def test_a_scratch_volume_at_each_writable_path(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    for logical_id, task, container in _containers(synth, stage):
        where = (stage, logical_id, container["Name"])
        _, paths, _ = _expected(_owner(config, logical_id), container["Name"])
        volumes = {v["Name"]: v for v in task.get("Volumes", [])}
        mounts = container.get("MountPoints", [])
        assert sorted(m["ContainerPath"] for m in mounts) == sorted(paths), where
        for mount in mounts:
            assert mount["ReadOnly"] is False, where
            # Its own volume: a bind mount with no host path (Fargate ephemeral storage).
            assert mount["SourceVolume"].startswith(f"{container['Name']}-"), where
            assert volumes[mount["SourceVolume"]] == {"Name": mount["SourceVolume"]}, where


@pytest.mark.parametrize("stage", STAGES)
def test_every_volume_is_a_mounted_scratch_volume(synth: Synth, stage: str) -> None:
    """No volume beyond the containers' scratch volumes, and none shared between them."""
    template = synth.template(stage, "Compute")
    for logical_id, task in resources(template, "AWS::ECS::TaskDefinition").items():
        mounted = [
            m["SourceVolume"]
            for c in props(task)["ContainerDefinitions"]
            for m in c.get("MountPoints", [])
        ]
        names = [v["Name"] for v in props(task).get("Volumes", [])]
        assert sorted(mounted) == sorted(names), (stage, logical_id)
        assert len(set(names)) == len(names), (stage, logical_id)


def test_the_lock_down_options_reach_the_containers(synth: Synth) -> None:
    """Non-default user, writable paths and capabilities (no shipped config sets them), on a
    standalone task with tracing."""
    # `synth`: after the session's synth (see _synth_order in tests/conftest.py).
    from aws_cdk import Stack, assertions  # noqa: PLC0415
    from aws_cdk import aws_kms as kms  # noqa: PLC0415

    from l3_constructs.workload import ImageSource, TaskProps, build_task  # noqa: PLC0415

    stack = Stack()
    build_task(
        stack,
        TaskProps(
            name="next",
            image=ImageSource(kind="ecr", repository_name="sample/next", tag="v1"),
            tracing=True,
            user="app:app",
            writable_paths=("/tmp", "/app/.next/cache"),
            add_capabilities=("SYS_PTRACE",),
        ),
        key=kms.Key(stack, "Key"),
        secrets={},
    )
    task = assertions.Template.from_stack(stack).find_resources("AWS::ECS::TaskDefinition")
    ((_, resource),) = task.items()
    properties: dict[str, Any] = resource["Properties"]
    app, daemon = properties["ContainerDefinitions"]
    assert (app["Name"], daemon["Name"]) == (CONTAINER_NAME, XRAY_CONTAINER_NAME)
    assert app["User"] == "app:app"
    assert daemon["User"] == XRAY_DAEMON_USER
    assert app["LinuxParameters"] == {
        "Capabilities": {"Add": ["SYS_PTRACE"], "Drop": ["ALL"]},
        "InitProcessEnabled": True,
    }
    assert daemon["LinuxParameters"] == {
        "Capabilities": {"Drop": ["ALL"]},
        "InitProcessEnabled": True,
    }
    assert app["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "app-tmp"},
        {
            "ContainerPath": "/app/.next/cache",
            "ReadOnly": False,
            "SourceVolume": "app-app-next-cache",
        },
    ]
    assert daemon["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "xray-daemon-tmp"}
    ]
    assert properties["Volumes"] == [
        {"Name": "app-tmp"},
        {"Name": "app-app-next-cache"},
        {"Name": "xray-daemon-tmp"},
    ]
    for container in (app, daemon):
        assert container["ReadonlyRootFilesystem"] is True
        assert container["Privileged"] is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"user": "0"}, "non-root user"),
        ({"user": "root:app"}, "non-root user"),
        ({"user": "0:0"}, "non-root user"),
        ({"user": ""}, "non-root user"),
        ({"add_capabilities": ("SYS_ADMINS",)}, "not a Linux capability"),
        ({"add_capabilities": ("ALL",)}, "ALL capabilities"),
        ({"writable_paths": ("tmp",)}, "not an absolute directory"),
        ({"writable_paths": ("/",)}, "not an absolute directory"),
        ({"writable_paths": ("/tmp", "/tmp/")}, "repeats another"),
    ],
)
def test_a_container_that_cannot_be_locked_down_is_refused(
    synth: Synth, options: dict[str, Any], message: str
) -> None:
    from aws_cdk import Stack  # noqa: PLC0415
    from aws_cdk import aws_ecs as ecs  # noqa: PLC0415

    from l3_constructs.workload import add_locked_down_container  # noqa: PLC0415

    task_definition = ecs.FargateTaskDefinition(Stack(), "Task")
    arguments: dict[str, Any] = {"user": "10001:10001", "writable_paths": ("/tmp",), **options}
    with pytest.raises(ValueError, match=message):
        add_locked_down_container(
            task_definition,
            "app",
            image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/busybox"),
            **arguments,
        )


def _instructions(sample: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a sample's Dockerfile, continuation lines joined."""
    text = (ROOT / "services" / sample / "Dockerfile").read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_image_runs_as_the_configured_non_root_user(sample: str) -> None:
    users = [arguments for name, arguments in _instructions(sample) if name == "USER"]
    assert users[-1:] == ["10001:10001"]
    assert Service.model_fields["user"].default == "10001:10001"


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_image_writes_no_bytecode_and_declares_its_scratch_volume(sample: str) -> None:
    instructions = _instructions(sample)
    environment = " ".join(a for name, a in instructions if name == "ENV").split()
    assert "PYTHONDONTWRITEBYTECODE=1" in environment
    volumes = [json.loads(a) for name, a in instructions if name == "VOLUME"]
    # The default writable paths, each declared so Fargate copies its mode (1777) over.
    default_paths = Service.model_fields["writable_paths"].default
    assert sorted(p for v in volumes for p in v) == sorted(default_paths)
