"""EC2 capacity (`compute.ec2`): the Auto Scaling group of ECS-optimized instances services
with `capacity_provider: ec2` run on, the instance types it may launch and what they hold, and
the rules that tie services to it (`check_ec2_capacity`).

An instance type's architecture, vCPUs and memory are derived from its name for the families
listed in `_FAMILIES` (general purpose, compute and memory optimized, burstable; Intel, AMD and
Graviton): what config needs to refuse an ARM type for an X86_64 image, or a type too small for
the largest task, without asking AWS. A family not listed is refused with the list, not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from config.primitives import ConfigModel, FieldError, unique

if TYPE_CHECKING:
    from config.services import Service

Architecture = Literal["X86_64", "ARM64"]
NetworkMode = Literal["awsvpc", "bridge"]

#: Memory the ECS agent registers for tasks is less than the instance's: the kernel, the
#: agent and Docker keep some. This share of the nominal memory is a conservative estimate
#: of what tasks get (AWS: "Container instance memory management").
TASK_MEMORY_SHARE = 0.9

#: Family -> GiB of memory per vCPU (None: burstable, sizes in `_BURSTABLE`).
_FAMILIES: dict[str, float | None] = {
    **dict.fromkeys(("t3", "t3a", "t4g"), None),
    **dict.fromkeys(("m5", "m5a", "m6i", "m6a", "m6g", "m7i", "m7a", "m7g", "m8g"), 4.0),
    **dict.fromkeys(("c5", "c5a", "c6i", "c6a", "c6g", "c7i", "c7a", "c7g", "c8g"), 2.0),
    **dict.fromkeys(("r5", "r5a", "r6i", "r6a", "r6g", "r7i", "r7a", "r7g", "r8g"), 8.0),
}
#: Burstable sizes: (vCPUs, GiB).
_BURSTABLE: dict[str, tuple[int, float]] = {
    "nano": (2, 0.5),
    "micro": (2, 1.0),
    "small": (2, 2.0),
    "medium": (2, 4.0),
    "large": (2, 8.0),
    "xlarge": (4, 16.0),
    "2xlarge": (8, 32.0),
}
#: Interface endpoints an ECS container instance needs in subnets without NAT (with the S3
#: gateway endpoint): the agent's three ECS endpoints, the image registry and logs.
INSTANCE_ENDPOINTS = ("ecs", "ecs-agent", "ecs-telemetry", "ecr.api", "ecr.dkr", "logs")
_INSTANCE_TYPE_RE = re.compile(r"^([a-z][a-z0-9]*)\.([a-z0-9]+)$")
_SIZE_RE = re.compile(r"^(\d*)xlarge$")


@dataclass(frozen=True)
class InstanceType:
    name: str
    architecture: Architecture
    vcpus: int
    memory_mib: int

    @property
    def cpu_units(self) -> int:
        """What ECS registers: 1024 units per vCPU."""
        return self.vcpus * 1024

    @property
    def task_memory_mib(self) -> int:
        """Memory left for tasks (`TASK_MEMORY_SHARE`, rounded down)."""
        return int(self.memory_mib * TASK_MEMORY_SHARE)


def instance_type(name: str) -> InstanceType:
    """Architecture, vCPUs and memory of `name`; ValueError for a family or size not known."""
    match = _INSTANCE_TYPE_RE.fullmatch(name)
    if not match or match.group(1) not in _FAMILIES:
        raise ValueError(
            f"{name!r} is not an instance type of a supported family "
            f"({', '.join(sorted(_FAMILIES))})"
        )
    family, size = match.groups()
    # Graviton families end in `g` (t4g, m7g); every other listed family is x86.
    architecture: Architecture = "ARM64" if family.endswith("g") else "X86_64"
    per_vcpu = _FAMILIES[family]
    if per_vcpu is None:
        if size not in _BURSTABLE:
            raise ValueError(f"{name!r}: {family} comes in {', '.join(_BURSTABLE)}")
        vcpus, gib = _BURSTABLE[size]
    else:
        sized = _SIZE_RE.fullmatch(size)
        if size == "medium" and family.endswith("g"):
            vcpus = 1
        elif size == "large":
            vcpus = 2
        elif sized:
            vcpus = 4 * int(sized.group(1) or 1)
        else:
            raise ValueError(f"{name!r}: {family} comes in large, xlarge, 2xlarge ... sizes")
        gib = vcpus * per_vcpu
    return InstanceType(name, architecture, vcpus, int(gib * 1024))


InstanceTypeName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]*\.[a-z0-9]+$")]


class SpotInstances(ConfigModel):
    """Spot instances in the group: the first `on_demand_base` on demand, then
    `on_demand_percent` of the rest; the others Spot (price-capacity-optimized)."""

    on_demand_base: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(
        0, description="Instances always on demand (never interrupted)."
    )
    on_demand_percent: Annotated[StrictInt, Field(ge=0, le=100)] = Field(
        0, description="Share of the instances beyond the base that are on demand (percent)."
    )


class Ec2Capacity(ConfigModel):
    """An Auto Scaling group of the latest ECS-optimized Amazon Linux 2023 image (resolved
    when CloudFormation deploys, from AWS's public SSM parameter), behind an ECS capacity
    provider with managed scaling, managed termination protection and managed draining."""

    instance_types: Annotated[tuple[InstanceTypeName, ...], unique()] = Field(
        min_length=1,
        max_length=20,
        description="Instance types the group may launch, preferred first, all of one "
        "architecture, e.g. `[t3.medium]`.",
    )
    min_instances: Annotated[StrictInt, Field(ge=0, le=1000)] = Field(
        0, description="Fewest instances (0: none while no task needs one)."
    )
    max_instances: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        description="Most instances managed scaling may run."
    )
    target_capacity_percent: Annotated[StrictInt, Field(ge=1, le=100)] = Field(
        100,
        description="Managed scaling's target use of the instances (100: no spare instance; "
        "lower keeps headroom so a new task starts without waiting for an instance).",
    )
    spot: SpotInstances | None = Field(
        None, description="Run instances on Spot beyond an on-demand share; null: on demand."
    )
    root_volume_gib: Annotated[StrictInt, Field(ge=30, le=16384)] = Field(
        30, description="gp3 root volume (the image's minimum is 30 GiB), encrypted."
    )
    detailed_monitoring: StrictBool = Field(
        True, description="EC2 metrics every minute instead of five (paid per metric)."
    )

    @model_validator(mode="after")
    def _check(self) -> Ec2Capacity:
        problems = []
        for i, name in enumerate(self.instance_types):
            try:
                instance_type(name)
            except ValueError as exc:
                problems.append(FieldError(f"instance_types.{i}", str(exc)))
        if problems:
            raise problems[0]
        architectures = {t.architecture for t in self.types}
        if len(architectures) > 1:
            raise FieldError(
                "instance_types",
                "mixes X86_64 and ARM64 types: one group runs one image architecture",
            )
        if self.min_instances > self.max_instances:
            raise FieldError(
                "min_instances",
                f"{self.min_instances} is more than max_instances ({self.max_instances})",
                cross_field=True,
            )
        return self

    @property
    def types(self) -> tuple[InstanceType, ...]:
        return tuple(instance_type(name) for name in self.instance_types)

    @property
    def architecture(self) -> Architecture:
        return self.types[0].architecture


def check_ec2_capacity(
    services: Mapping[str, Service],
    *,
    default_provider: str,
    ec2: Ec2Capacity | None,
    subnets: str,
    nat: str,
    endpoints: tuple[str, ...],
) -> list[FieldError]:
    """The rules between the services and the EC2 capacity, each naming its field."""
    problems: list[FieldError] = []

    def problem(field: str, message: str) -> None:
        problems.append(FieldError(field, message, cross_field=True))

    on_ec2 = {
        name: s
        for name, s in services.items()
        if s.kind != "job" and (s.capacity_provider or default_provider) == "ec2"
    }
    problems.extend(_network_mode_problems(services, on_ec2))
    if not on_ec2:
        if ec2 is not None:
            problem(
                "compute.ec2",
                "is set but no service runs on it (capacity_provider: ec2): its instances "
                "would be paid for idle",
            )
        return problems
    first = next(iter(on_ec2))
    if ec2 is None:
        field = (
            "compute.capacity_provider"
            if default_provider == "ec2"
            else f"services.{first}.capacity_provider"
        )
        problem(field, "'ec2' needs compute.ec2 (instance types, min and max instances)")
        return problems
    if subnets == "public":
        problem(
            "compute.subnets",
            "'public' cannot take EC2 capacity: instances and their awsvpc tasks get no public "
            "IP from ECS; run them in 'private' subnets (network.nat, or the endpoints)",
        )
    missing = [e for e in INSTANCE_ENDPOINTS if e not in endpoints]
    if nat == "none" and missing:
        problem(
            "network.interface_endpoints",
            f"must include {', '.join(missing)} for EC2 capacity without NAT: the ECS agent "
            "registers, reports and pulls images only through them",
        )
    for name, s in on_ec2.items():
        if s.architecture != ec2.architecture:
            problem(
                "compute.ec2.instance_types",
                f"are {ec2.architecture} but service {name!r} runs {s.architecture} images "
                f"(services.{name}.architecture)",
            )
    smallest = min(ec2.types, key=lambda t: (t.task_memory_mib, t.cpu_units))
    for name, s in on_ec2.items():
        if s.memory_mib > smallest.task_memory_mib or s.cpu > smallest.cpu_units:
            problem(
                "compute.ec2.instance_types",
                f"{smallest.name} ({smallest.cpu_units} CPU units, about "
                f"{smallest.task_memory_mib} MiB for tasks) cannot hold a task of service "
                f"{name!r} ({s.cpu} CPU units, {s.memory_mib} MiB)",
            )
    return problems


def _network_mode_problems(
    services: Mapping[str, Service], on_ec2: Mapping[str, Service]
) -> list[FieldError]:
    """`bridge` only on EC2, and only for a service no other calls: with bridge networking
    the tasks share the instances' security group, which admits the load balancer alone."""
    problems: list[FieldError] = []
    callers = {t: n for n, s in services.items() for t in s.connects_to}
    for name, s in services.items():
        # A job's network_mode is refused as a setting jobs do not take.
        if s.network_mode != "bridge" or s.kind == "job":
            continue
        field = f"services.{name}.network_mode"
        if name not in on_ec2:
            message = f"'bridge' needs EC2 capacity; {name!r} runs on Fargate (only 'awsvpc')"
        elif s.database:
            message = (
                "'bridge' tasks share the instances' security group: the database's rule for "
                f"{name!r} would admit every task on the instances; give it 'awsvpc'"
            )
        elif s.kind == "backend" or name in callers:
            why = f"services.{callers[name]}.connects_to names it" if name in callers else "backend"
            message = (
                f"'bridge' is for services reached only through the load balancer; {name!r} is "
                f"called over Service Connect ({why}): give it 'awsvpc' so its own security "
                "group admits its callers"
            )
        else:
            continue
        problems.append(FieldError(field, message, cross_field=True))
    return problems
