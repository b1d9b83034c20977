"""EC2 capacity in config (issue: capacity): what an instance type holds, and every
impossible combination refused in one line naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.capacity import InstanceType, instance_type
from config.loader import ConfigError, load_environments, load_from
from tests.config.helpers import REPO_ROOT, Mutation, combine, edit_yaml, problems_of, put
from tests.config.test_config import Case, case

SERVICES = ("web", "api", "worker", "cleanup")


def on_ec2(
    instance_types: tuple[str, ...] = ("t3.large",), architecture: str = "X86_64", **ec2: Any
) -> Mutation:
    """Prod on EC2 instances: every service's images of `architecture`."""
    return combine(
        put("compute.capacity_provider", "ec2"),
        put(
            "compute.ec2",
            {"instance_types": list(instance_types), "min_instances": 2, "max_instances": 10} | ec2,
        ),
        *(put(f"services.{name}.architecture", architecture) for name in SERVICES),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("t3.small", InstanceType("t3.small", "X86_64", 2, 2048)),
        ("t3.medium", InstanceType("t3.medium", "X86_64", 2, 4096)),
        ("t3.large", InstanceType("t3.large", "X86_64", 2, 8192)),
        ("t4g.micro", InstanceType("t4g.micro", "ARM64", 2, 1024)),
        ("m7g.medium", InstanceType("m7g.medium", "ARM64", 1, 4096)),
        ("m6i.large", InstanceType("m6i.large", "X86_64", 2, 8192)),
        ("c7g.2xlarge", InstanceType("c7g.2xlarge", "ARM64", 8, 16384)),
        ("r6i.xlarge", InstanceType("r6i.xlarge", "X86_64", 4, 32768)),
    ],
)
def test_instance_types_are_known_by_name(name: str, expected: InstanceType) -> None:
    assert instance_type(name) == expected


def test_tasks_get_less_memory_than_the_instance_has() -> None:
    # The kernel, Docker and the agent keep some; a 2 GiB instance cannot take a 2 GiB task.
    small = instance_type("t3.small")
    assert small.task_memory_mib == 1843
    assert small.cpu_units == 2048


NO_AGENT_ENDPOINTS = (
    "config/test.yaml: network.interface_endpoints: must include ecs, ecs-agent, "
    "ecs-telemetry, ecr.api, ecr.dkr, logs for EC2 capacity without NAT: the ECS agent "
    "registers, reports and pulls images only through them"
)
EC2_CASES = [
    case(
        "bridge-on-fargate",
        "prod.yaml",
        put("services.web.network_mode", "bridge"),
        "config/prod.yaml: services.web.network_mode: 'bridge' needs EC2 capacity; 'web' runs "
        "on Fargate (only 'awsvpc')",
    ),
    case(
        "network-mode-on-a-job",
        "prod.yaml",
        put("services.cleanup.network_mode", "bridge"),
        "config/prod.yaml: services.cleanup.network_mode: is not a setting of a job (only of "
        "web and backend and worker): a job runs one task per schedule",
    ),
    case(
        "arm-instances-for-x86-images",
        "prod.yaml",
        on_ec2(("t4g.large",), "X86_64"),
        *(
            f"config/prod.yaml: compute.ec2.instance_types: are ARM64 but service {name!r} "
            f"runs X86_64 images (services.{name}.architecture)"
            for name in ("web", "api", "worker")
        ),
    ),
    case(
        "x86-instances-for-arm-images",
        "prod.yaml",
        on_ec2(("m6i.large",), "ARM64"),
        *(
            f"config/prod.yaml: compute.ec2.instance_types: are X86_64 but service {name!r} "
            f"runs ARM64 images (services.{name}.architecture)"
            for name in ("web", "api", "worker")
        ),
    ),
    case(
        "instance-too-small-for-the-largest-task",
        "prod.yaml",
        combine(on_ec2(("t3.large", "t3.small")), put("services.api.memory_mib", 2048)),
        "config/prod.yaml: compute.ec2.instance_types: t3.small (2048 CPU units, about 1843 "
        "MiB for tasks) cannot hold a task of service 'api' (512 CPU units, 2048 MiB)",
    ),
    case(
        "instance-without-the-cpu-of-a-task",
        "prod.yaml",
        combine(
            on_ec2(("m7g.medium",), "ARM64"),
            put("services.api.cpu", 2048),
            put("services.api.memory_mib", 4096),
        ),
        "config/prod.yaml: compute.ec2.instance_types: m7g.medium (1024 CPU units, about 3686 "
        "MiB for tasks) cannot hold a task of service 'api' (2048 CPU units, 4096 MiB)",
    ),
    case(
        "min-instances-above-max",
        "prod.yaml",
        on_ec2(min_instances=4, max_instances=3),
        "config/prod.yaml: compute.ec2.min_instances: 4 is more than max_instances (3)",
    ),
    case(
        "instance-types-of-two-architectures",
        "prod.yaml",
        on_ec2(("t3.large", "t4g.large")),
        "config/prod.yaml: compute.ec2.instance_types: mixes X86_64 and ARM64 types: one group "
        "runs one image architecture",
    ),
    case(
        "unknown-instance-family",
        "prod.yaml",
        on_ec2(("t3.large", "x2idn.large")),
        "config/prod.yaml: compute.ec2.instance_types[1]: 'x2idn.large' is not an instance type "
        "of a supported family (c5, c5a, c6a, c6g, c6i, c7a, c7g, c7i, c8g, m5, m5a, m6a, m6g, "
        "m6i, m7a, m7g, m7i, m8g, r5, r5a, r6a, r6g, r6i, r7a, r7g, r7i, r8g, t3, t3a, t4g)",
    ),
    case(
        "ec2-without-instances",
        "prod.yaml",
        put("services.api.capacity_provider", "ec2"),
        "config/prod.yaml: services.api.capacity_provider: 'ec2' needs compute.ec2 (instance "
        "types, min and max instances)",
    ),
    case(
        "instances-nobody-uses",
        "prod.yaml",
        put("compute.ec2", {"instance_types": ["t4g.large"], "max_instances": 2}),
        "config/prod.yaml: compute.ec2: is set but no service runs on it (capacity_provider: "
        "ec2): its instances would be paid for idle",
    ),
    case(
        "bridge-for-a-called-service",
        "prod.yaml",
        combine(on_ec2(), put("services.api.network_mode", "bridge")),
        "config/prod.yaml: services.api.network_mode: 'bridge' tasks share the instances' "
        "security group: the database's rule for 'api' would admit every task on the "
        "instances; give it 'awsvpc'",
    ),
    case(
        "bridge-for-a-service-connect-target",
        "prod.yaml",
        combine(
            on_ec2(),
            put("services.api.database", False),
            put("migration.service", "api"),
            put("services.api.network_mode", "bridge"),
        ),
        "config/prod.yaml: migration.service: 'api' must say `database: true`: the migration "
        "runs with its image and database credentials",
        "config/prod.yaml: services.api.network_mode: 'bridge' is for services reached only "
        "through the load balancer; 'api' is called over Service Connect "
        "(services.web.connects_to names it): give it 'awsvpc' so its own security group "
        "admits its callers",
    ),
    case(
        "ec2-in-public-subnets",
        "test.yaml",
        combine(
            put("compute.capacity_provider", "ec2"),
            put("compute.ec2", {"instance_types": ["t4g.small"], "max_instances": 2}),
        ),
        "config/test.yaml: compute.subnets: 'public' cannot take EC2 capacity: instances and "
        "their awsvpc tasks get no public IP from ECS; run them in 'private' subnets "
        "(network.nat, or the endpoints)",
        NO_AGENT_ENDPOINTS,
    ),
    case(
        "ec2-without-nat-or-agent-endpoints",
        "test.yaml",
        combine(
            put("compute.subnets", "private"),
            put("compute.capacity_provider", "ec2"),
            put("compute.ec2", {"instance_types": ["t4g.small"], "max_instances": 2}),
        ),
        NO_AGENT_ENDPOINTS,
    ),
]


@pytest.mark.parametrize("bad", EC2_CASES)
def test_impossible_ec2_capacity_is_refused(config_dir: Path, bad: Case) -> None:
    assert bad.change is not None
    edit_yaml(config_dir / bad.file, bad.change)
    assert problems_of(config_dir) == bad.exact


def test_a_service_may_run_on_ec2_while_others_stay_on_fargate(config_dir: Path) -> None:
    edit_yaml(
        config_dir / "prod.yaml",
        combine(
            put("compute.ec2", {"instance_types": ["t4g.large"], "max_instances": 2}),
            put("services.web.capacity_provider", "ec2"),
            put("services.web.network_mode", "bridge"),
        ),
    )
    prod = {e.config.stage_name: e.config for e in load_environments(config_dir)}["Prod"]
    assert prod.services["web"].capacity_provider == "ec2"
    assert prod.compute.ec2 is not None
    assert prod.compute.ec2.architecture == "ARM64"


def test_the_ec2_example_is_the_design_documents() -> None:
    """examples/ec2-capacity: design document 002's three environments on EC2."""
    envs = {e.config.stage_name: e.config for e in load_from(REPO_ROOT / "examples/ec2-capacity")}
    expected = {
        # stage: (instance type, min, max, task cpu, task memory, scaling target)
        "Ec2Dev": ("t3.small", 0, 3, 256, 512, 70),
        "Ec2Staging": ("t3.medium", 1, 5, 512, 1024, 70),
        "Ec2Prod": ("t3.large", 2, 10, 1024, 2048, 60),
    }
    assert set(envs) == set(expected)
    for stage, (itype, low, high, cpu, memory, target) in expected.items():
        config = envs[stage]
        ec2 = config.compute.ec2
        assert ec2 is not None
        assert (ec2.instance_types, ec2.min_instances, ec2.max_instances) == ((itype,), low, high)
        assert ec2.target_capacity_percent == 100
        assert config.compute.capacity_provider == "ec2"
        web = config.services["web"]
        assert (web.cpu, web.memory_mib, web.network_mode) == (cpu, memory, "bridge")
        assert web.scaling.cpu_target_percent == target
        assert config.services["api"].network_mode == "awsvpc"
        thresholds = config.observability.thresholds
        assert (thresholds.ecs_cpu_percent, thresholds.ecs_memory_percent) == (80, 80)
        assert (thresholds.alb_5xx_per_5_minutes, thresholds.response_time_p95_ms) == (10, 1000)
        assert thresholds.unhealthy_targets == 0
    assert envs["Ec2Prod"].network.nat == "per_az"
    assert envs["Ec2Dev"].network.nat == envs["Ec2Staging"].network.nat == "single"


def test_an_example_names_its_own_files_in_errors(tmp_path: Path) -> None:
    example = tmp_path / "example"
    example.mkdir()
    (example / "dev.yaml").write_text(
        (REPO_ROOT / "examples/ec2-capacity/dev.yaml").read_text().replace("t3.small", "t3.huge")
    )
    with pytest.raises(ConfigError) as info:
        load_from(example)
    assert list(info.value.problems) == [
        "example/dev.yaml: compute.ec2.instance_types[0]: 't3.huge': t3 comes in nano, micro, "
        "small, medium, large, xlarge, 2xlarge"
    ]
