"""Compute: ECS services on Fargate / Fargate Spot / EC2 capacity, the cluster's Container
Insights, Auto Scaling groups and instances with their EBS volumes, scheduled jobs, Lambda
functions, Step Functions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cost_estimate.assembly import Resource, ref_id, strings, task_definitions_in
from cost_estimate.context import (
    CONTAINER_INSIGHTS_LOG_MB_PER_TASK,
    EBS_DEFAULT_ROOT_GB,
    LAMBDA_SECONDS_PER_RUN,
    STATE_TRANSITIONS_PER_STATE,
    XRAY_RESERVOIR_PER_SECOND,
    XRAY_SAMPLED_SHARE,
    Context,
    NoChargeError,
    UnpriceableError,
    container_insights_usage,
)
from cost_estimate.instances import memory_gb, vcpus
from cost_estimate.model import Gap, Kind, LineItem
from cost_estimate.schedules import HOURS_PER_MONTH

Priced = list[LineItem | Gap]
H = HOURS_PER_MONTH
FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"


# --- ECS services ---------------------------------------------------------------------------


def _task_size(td: Resource) -> tuple[float, float, str]:
    """(vCPU, GB, architecture) of a Fargate task definition."""
    props = td.properties
    try:
        vcpu = float(props["Cpu"]) / 1024
        gb = float(props["Memory"]) / 1024
    except (KeyError, TypeError, ValueError):
        raise UnpriceableError(
            f"task definition {td.logical_id} has no task-level Cpu/Memory"
        ) from None
    arch = (props.get("RuntimePlatform") or {}).get("CpuArchitecture", "X86_64")
    return vcpu, gb, str(arch)


def split_tasks(tasks: float, strategy: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Tasks per capacity provider: the `Base` first, the rest by `Weight`."""
    split: dict[str, float] = {}
    remaining = tasks
    for entry in strategy:
        base = float(entry.get("Base", 0) or 0)
        if base:
            take = min(base, remaining)
            name = _provider_name(entry)
            split[name] = split.get(name, 0.0) + take
            remaining -= take
    weights = [(e, float(e.get("Weight", 0) or 0)) for e in strategy]
    total = sum(w for _, w in weights)
    if remaining > 0 and total <= 0:
        raise UnpriceableError("a capacity provider strategy with no weight")
    for entry, weight in weights:
        if weight and remaining > 0:
            name = _provider_name(entry)
            split[name] = split.get(name, 0.0) + remaining * weight / total
    return split


def _provider_name(entry: Mapping[str, Any]) -> str:
    provider = entry.get("CapacityProvider")
    if isinstance(provider, str):
        return provider
    return f"EC2:{ref_id(provider) or 'capacity provider'}"


def _strategy(res: Resource, ctx: Context) -> list[Mapping[str, Any]]:
    props = res.properties
    if props.get("CapacityProviderStrategy"):
        return list(props["CapacityProviderStrategy"])
    if props.get("LaunchType"):
        launch = props["LaunchType"]
        return [
            {"CapacityProvider": FARGATE if launch == FARGATE else f"EC2:{launch}", "Weight": 1}
        ]
    cluster = ref_id(props.get("Cluster"))
    for assoc in ctx.stage.of_type("AWS::ECS::ClusterCapacityProviderAssociations"):
        if assoc.stack == res.stack and ref_id(assoc.properties.get("Cluster")) == cluster:
            default = assoc.properties.get("DefaultCapacityProviderStrategy") or []
            if default:
                return list(default)
    return [{"CapacityProvider": FARGATE, "Weight": 1}]


def running_tasks(res: Resource, ctx: Context) -> tuple[float, float, Kind, str]:
    """(tasks, hours, kind, basis) of an ECS service."""
    desired = float(res.properties.get("DesiredCount", 1))
    if desired > 0:
        return desired, H, "fixed", f"DesiredCount {desired:g} x {H:g} h"
    busy = float(ctx.assumptions.worker_busy_hours_per_month)
    return 1.0, busy, "usage", "starts from 0: one task for worker_busy_hours_per_month"


def ecs_service(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    td = ctx.target(res, props.get("TaskDefinition"), "AWS::ECS::TaskDefinition")
    if td is None:
        raise UnpriceableError("its task definition is not in the stack")
    tasks, hours, kind, basis = running_tasks(res, ctx)
    items: Priced = []
    split = split_tasks(tasks, _strategy(res, ctx))
    fargate_tasks = 0.0
    for provider, count in split.items():
        if provider in (FARGATE, FARGATE_SPOT):
            items.extend(
                _fargate(
                    res,
                    ctx,
                    td=td,
                    provider=provider,
                    tasks=count,
                    hours=hours,
                    kind=kind,
                    basis=basis,
                )
            )
            fargate_tasks += count
    # Tasks on EC2 capacity cost nothing here: their Auto Scaling group's instances are priced.
    network = (props.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}
    if network.get("AssignPublicIp") == "ENABLED" and fargate_tasks:
        items.append(
            ctx.item(res, category="Network", item="public IPv4 address of each task",
                     quantity=fargate_tasks * hours, price="vpc.public_ipv4_hour", kind=kind,
                     basis=f"{basis}; AssignPublicIp ENABLED")
        )  # fmt: skip
    if props.get("LoadBalancers") and _has_xray(td):
        items.append(_xray(res, ctx))
    if not items:
        raise NoChargeError(
            "its tasks run on EC2 capacity: the Auto Scaling group's instances are priced"
        )
    return items


def _fargate(
    res: Resource,
    ctx: Context,
    *,
    td: Resource,
    provider: str,
    tasks: float,
    hours: float,
    kind: Kind,
    basis: str,
) -> Priced:
    vcpu, gb, arch = _task_size(td)
    spot = provider == FARGATE_SPOT
    name = "Fargate Spot" if spot else "Fargate"
    prefix = "fargate.spot_" if spot else "fargate."
    share = f"{basis}; {tasks:g} task(s) on {provider}"
    items: Priced = [
        ctx.item(res, category="Compute", item=f"{name} vCPU ({arch}, {vcpu:g} vCPU a task)",
                 quantity=tasks * vcpu * hours, price=f"{prefix}vcpu_hour", by=(arch,),
                 kind=kind, basis=share),
        ctx.item(res, category="Compute", item=f"{name} memory ({arch}, {gb:g} GB a task)",
                 quantity=tasks * gb * hours, price=f"{prefix}gb_hour", by=(arch,),
                 kind=kind, basis=share),
    ]  # fmt: skip
    ephemeral = float((td.properties.get("EphemeralStorage") or {}).get("SizeInGiB", 20))
    if ephemeral > 20:
        items.append(
            ctx.item(res, category="Compute", item="Fargate ephemeral storage above 20 GB",
                     quantity=tasks * (ephemeral - 20) * hours, price="fargate.ephemeral_gb_hour",
                     kind=kind, basis=share)
        )  # fmt: skip
    return items


def _has_xray(td: Resource) -> bool:
    containers = td.properties.get("ContainerDefinitions") or []
    return any("xray" in str(c.get("Image", "")) for c in containers)


def _xray(res: Resource, ctx: Context) -> LineItem | Gap:
    a = ctx.assumptions
    web = [s for s in ctx.stage.of_type("AWS::ECS::Service") if s.properties.get("LoadBalancers")]
    requests = a.requests_per_month * a.origin_request_percent / 100 / max(len(web), 1)
    reservoir = H * 3600 * XRAY_RESERVOIR_PER_SECOND
    traces = min(requests, reservoir) + XRAY_SAMPLED_SHARE * max(0.0, requests - reservoir)
    return ctx.item(
        res, category="Monitoring", item="X-Ray traces recorded", quantity=traces / 1e6,
        price="xray.million_traces", kind="usage",
        basis="the origin requests, split over the web services, sampled by the default rule",
    )  # fmt: skip


# --- the cluster: Container Insights --------------------------------------------------------


def ecs_cluster(res: Resource, ctx: Context) -> Priced:
    settings = {s.get("Name"): s.get("Value") for s in res.properties.get("ClusterSettings") or []}
    mode = settings.get("containerInsights", "disabled")
    if mode not in CONTAINER_INSIGHTS_LOG_MB_PER_TASK:
        raise NoChargeError("an ECS cluster has no charge of its own (Container Insights is off)")
    services = [s for s in ctx.referrers(res, "AWS::ECS::Service")
                if float(s.properties.get("DesiredCount", 1)) > 0]  # fmt: skip
    families = {ref_id(s.properties.get("TaskDefinition")) for s in services}
    tasks = sum(float(s.properties.get("DesiredCount", 1)) for s in services)
    containers = 0.0
    for service in services:
        td = ctx.target(service, service.properties.get("TaskDefinition"))
        count = len(td.properties.get("ContainerDefinitions") or []) if td else 1
        containers += float(service.properties.get("DesiredCount", 1)) * count
    metrics, log_gb = container_insights_usage(
        mode, services=len(services), families=len(families), tasks=tasks, containers=containers
    )
    what = f"cluster, {len(services)} running services, {len(families)} task families"
    if mode == "enhanced":
        what += f", {tasks:g} tasks, {containers:g} containers"
    return [
        ctx.item(res, category="Monitoring", item=f"Container Insights metrics ({mode})",
                 quantity=metrics, price="cloudwatch.metric_month", kind="fixed",
                 basis=f"{metrics:g} metrics: {what}"),
        ctx.item(res, category="Monitoring", item="Container Insights performance logs",
                 quantity=log_gb, price="cloudwatch.log_ingest_gb", kind="fixed",
                 basis=f"{tasks:g} running tasks"),
    ]  # fmt: skip


# --- EC2: Auto Scaling groups, instances, EBS -----------------------------------------------


def _launch_data(res: Resource, ctx: Context, spec: Any) -> Mapping[str, Any]:
    if not isinstance(spec, Mapping):
        raise UnpriceableError("no launch template")
    template = ctx.target(res, spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName"),
                          "AWS::EC2::LaunchTemplate")  # fmt: skip
    if template is None:
        raise UnpriceableError("its launch template is not in the stack")
    data: Mapping[str, Any] = template.properties.get("LaunchTemplateData") or {}
    return data


def _ebs_gb(data: Mapping[str, Any]) -> list[tuple[str, float, float, float]]:
    """(volume type, GB, IOPS, throughput) of each EBS volume an instance gets."""
    volumes = []
    for mapping in data.get("BlockDeviceMappings") or []:
        ebs = mapping.get("Ebs")
        if not ebs:
            continue
        volumes.append((
            str(ebs.get("VolumeType", "gp3")),
            float(ebs.get("VolumeSize", EBS_DEFAULT_ROOT_GB)),
            float(ebs.get("Iops", 3000) or 3000),
            float(ebs.get("Throughput", 125) or 125),
        ))  # fmt: skip
    return volumes or [("gp3", float(EBS_DEFAULT_ROOT_GB), 3000.0, 125.0)]


def _instance_items(
    res: Resource,
    ctx: Context,
    *,
    data: Mapping[str, Any],
    instance_type: str,
    count: float,
    spot_count: float,
    basis: str,
) -> Priced:
    items: Priced = []
    on_demand = count - spot_count
    if on_demand:
        items.append(
            ctx.item(res, category="Compute", item=f"EC2 {instance_type} on-demand",
                     quantity=on_demand * H, price="ec2.instance_hour", by=(instance_type,),
                     kind="fixed", basis=basis)
        )  # fmt: skip
    if spot_count:
        table = ctx.table(res.region)
        factor = table.usd("ec2.spot_factor")
        items.append(
            ctx.item(res, category="Compute", item=f"EC2 {instance_type} Spot",
                     quantity=spot_count * H, price="ec2.instance_hour", by=(instance_type,),
                     factor=factor, kind="fixed",
                     basis=f"{basis}; at ec2.spot_factor {factor:g} of on-demand")
        )  # fmt: skip
    for volume, gb, iops, throughput in _ebs_gb(data):
        items.append(
            ctx.item(res, category="Compute", item=f"EBS {volume} {gb:g} GB an instance",
                     quantity=count * gb, price="ebs.gb_month", by=(volume,), kind="fixed",
                     basis=f"{count:g} instances")
        )  # fmt: skip
        if volume == "gp3" and iops > 3000:
            items.append(
                ctx.item(res, category="Compute", item="EBS gp3 IOPS above 3,000",
                         quantity=count * (iops - 3000), price="ebs.gp3_iops_month",
                         kind="fixed", basis=f"{count:g} instances")
            )  # fmt: skip
        if volume == "gp3" and throughput > 125:
            items.append(
                ctx.item(res, category="Compute", item="EBS gp3 throughput above 125 MB/s",
                         quantity=count * (throughput - 125), price="ebs.gp3_throughput_month",
                         kind="fixed", basis=f"{count:g} instances")
            )  # fmt: skip
    interfaces = data.get("NetworkInterfaces") or []
    if any(str(i.get("AssociatePublicIpAddress")).lower() == "true" for i in interfaces):
        items.append(
            ctx.item(res, category="Network", item="public IPv4 address of each instance",
                     quantity=count * H, price="vpc.public_ipv4_hour", kind="fixed", basis=basis)
        )  # fmt: skip
    if str((data.get("Monitoring") or {}).get("Enabled")).lower() == "true":
        items.append(
            ctx.item(res, category="Monitoring", item="EC2 detailed monitoring (7 metrics)",
                     quantity=count * 7, price="cloudwatch.metric_month", kind="fixed",
                     basis=f"{count:g} instances")
        )  # fmt: skip
    return items


def _reserved_by_tasks(res: Resource, ctx: Context) -> tuple[float, float]:
    """(vCPU, GiB) the services on this group's capacity providers reserve."""
    providers = {
        p.logical_id
        for p in ctx.stage.of_type("AWS::ECS::CapacityProvider")
        if p.stack == res.stack
        and ref_id((p.properties.get("AutoScalingGroupProvider") or {}).get("AutoScalingGroupArn"))
        == res.logical_id
    }
    cpu = memory = 0.0
    for service in ctx.stage.of_type("AWS::ECS::Service"):
        if service.stack != res.stack:
            continue
        td = ctx.target(
            service, service.properties.get("TaskDefinition"), "AWS::ECS::TaskDefinition"
        )
        if td is None:
            continue
        tasks, _, _, _ = running_tasks(service, ctx)
        split = split_tasks(tasks, _strategy(service, ctx))
        on_group = sum(n for name, n in split.items() if name.removeprefix("EC2:") in providers)
        task_cpu, task_memory = _reservation(td)
        cpu += on_group * task_cpu
        memory += on_group * task_memory
    return cpu, memory


def _reservation(td: Resource) -> tuple[float, float]:
    """(vCPU, GiB) a task reserves: the task's Cpu/Memory, else its containers' sums."""
    props = td.properties
    containers = props.get("ContainerDefinitions") or []
    cpu = props.get("Cpu") or sum(float(c.get("Cpu", 0) or 0) for c in containers)
    memory = props.get("Memory") or sum(
        float(c.get("Memory") or c.get("MemoryReservation") or 0) for c in containers
    )
    return float(cpu) / 1024, float(memory) / 1024


def auto_scaling_group(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    desired = props.get("DesiredCapacity")
    count = float(desired if desired is not None else props.get("MinSize", 0))
    basis = (f"DesiredCapacity {count:g}" if desired is not None else f"MinSize {count:g}") + (
        f" x {H:g} h (scale-out not estimated)"
    )
    mixed = props.get("MixedInstancesPolicy")
    spot: float = 0.0
    base, above = 0.0, 100.0
    if mixed:
        template = mixed.get("LaunchTemplate") or {}
        data = _launch_data(res, ctx, template.get("LaunchTemplateSpecification"))
        overrides = template.get("Overrides") or []
        instance_type = (overrides[0].get("InstanceType") if overrides else None) or data.get(
            "InstanceType"
        )
        dist = mixed.get("InstancesDistribution") or {}
        base = float(dist.get("OnDemandBaseCapacity", 0))
        above = float(dist.get("OnDemandPercentageAboveBaseCapacity", 100))
        spot = max(0.0, count - base) * (100 - above) / 100
    else:
        data = _launch_data(res, ctx, props.get("LaunchTemplate"))
        instance_type = data.get("InstanceType")
        market = (data.get("InstanceMarketOptions") or {}).get("MarketType")
        spot = count if market == "spot" else 0.0
    if not isinstance(instance_type, str):
        raise UnpriceableError("its instance type is not a literal in the launch template")
    cpu, memory = _reserved_by_tasks(res, ctx)
    if cpu or memory:
        # Managed scaling launches what the tasks on its capacity provider reserve (the
        # agent and OS keep about a tenth of the memory).
        needed = max(
            math.ceil(cpu / vcpus(instance_type)),
            math.ceil(memory / (memory_gb(instance_type) * 0.9)),
        )
        if needed > count:
            count = float(needed)
            basis = (
                f"{needed} instances to place the tasks of its capacity provider ({cpu:g} vCPU, "
                f"{memory:g} GiB reserved) x {H:g} h"
            )
        if mixed:
            spot = max(0.0, count - base) * (100 - above) / 100
        elif spot:
            spot = count
    if count == 0:
        raise NoChargeError("an Auto Scaling group at 0 instances (scale-out is not estimated)")
    return _instance_items(
        res, ctx, data=data, instance_type=instance_type, count=count, spot_count=spot, basis=basis
    )


def ec2_instance(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    instance_type = props.get("InstanceType", "m1.small")
    if not isinstance(instance_type, str):
        raise UnpriceableError("its instance type is not a literal")
    data = {
        "BlockDeviceMappings": props.get("BlockDeviceMappings"),
        "NetworkInterfaces": props.get("NetworkInterfaces"),
        "Monitoring": {"Enabled": props.get("Monitoring", False)},
    }
    return _instance_items(
        res,
        ctx,
        data=data,
        instance_type=instance_type,
        count=1.0,
        spot_count=0.0,
        basis=f"{H:g} h",
    )


def ebs_volume(res: Resource, ctx: Context) -> Priced:
    volume = str(res.properties.get("VolumeType", "gp2"))
    gb = float(res.properties.get("Size", 0))
    return [
        ctx.item(res, category="Compute", item=f"EBS {volume} {gb:g} GB", quantity=gb,
                 price="ebs.gb_month", by=(volume,), kind="fixed", basis="Size"),
    ]  # fmt: skip


# --- jobs, functions, state machines --------------------------------------------------------


def schedule(res: Resource, ctx: Context) -> Priced:
    """A Scheduler schedule: its invocations, and the Fargate time of the job it starts."""
    from cost_estimate.schedules import runs_per_month  # noqa: PLC0415

    expression = res.properties.get("ScheduleExpression")
    if not isinstance(expression, str):
        raise UnpriceableError("no literal ScheduleExpression")
    runs = runs_per_month(expression)
    items: Priced = [
        ctx.item(res, category="Messaging", item="scheduler invocations", quantity=runs / 1e6,
                 price="scheduler.million_invocations", kind="fixed",
                 basis=f"{runs:.1f} runs a month ({expression})"),
    ]  # fmt: skip
    td = _job_task_definition(res, ctx)
    if td is not None:
        vcpu, gb, arch = _task_size(td)
        hours = runs * ctx.assumptions.job_run_minutes / 60
        basis = f"{runs:.1f} runs x job_run_minutes ({td.logical_id}, on Fargate)"
        items += [
            ctx.item(res, category="Compute", item=f"job on Fargate: vCPU ({arch}, {vcpu:g})",
                     quantity=vcpu * hours, price="fargate.vcpu_hour", by=(arch,),
                     kind="usage", basis=basis),
            ctx.item(res, category="Compute", item=f"job on Fargate: memory ({arch}, {gb:g} GB)",
                     quantity=gb * hours, price="fargate.gb_hour", by=(arch,),
                     kind="usage", basis=basis),
        ]  # fmt: skip
    return items


def _job_task_definition(res: Resource, ctx: Context) -> Resource | None:
    target = res.properties.get("Target") or {}
    ecs = target.get("EcsParameters") or {}
    direct = ctx.target(res, ecs.get("TaskDefinitionArn"), "AWS::ECS::TaskDefinition")
    if direct is not None:
        return direct
    machine = ctx.target(res, target.get("Arn"), "AWS::StepFunctions::StateMachine")
    if machine is None:
        return None
    found = task_definitions_in(ctx.stage, res.stack, machine.properties.get("DefinitionString"))
    return found[0] if found else None


def state_machine(res: Resource, ctx: Context) -> Priced:
    if res.properties.get("StateMachineType", "STANDARD") != "STANDARD":
        raise UnpriceableError("Express state machines are not in the price table")
    definition = "".join(strings(res.properties.get("DefinitionString")))
    states = max(definition.count('"Type":'), 1)
    runs = ctx.schedule_runs.get(res.key)
    basis = f"{runs:.1f} scheduled runs" if runs is not None else "one run a release"
    runs = runs if runs is not None else float(ctx.assumptions.releases_per_month)
    transitions = runs * (states + 1) * STATE_TRANSITIONS_PER_STATE
    return [
        ctx.item(res, category="Messaging", item=f"state transitions ({states} states)",
                 quantity=transitions / 1000, price="stepfunctions.thousand_transitions",
                 kind="usage", basis=f"{basis} x {states + 1} transitions"),
    ]  # fmt: skip


def lambda_function(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    memory_gb = float(props.get("MemorySize", 128)) / 1024
    arch = (props.get("Architectures") or ["x86_64"])[0]
    runs = float(ctx.assumptions.releases_per_month)
    basis = f"releases_per_month x one {LAMBDA_SECONDS_PER_RUN} s run (deploy-time handler)"
    return [
        ctx.item(res, category="Compute", item="Lambda requests", quantity=runs / 1e6,
                 price="lambda.million_requests", kind="usage", basis=basis),
        ctx.item(res, category="Compute", item=f"Lambda duration ({arch}, {memory_gb * 1024:g} MB)",
                 quantity=runs * LAMBDA_SECONDS_PER_RUN * memory_gb, price="lambda.gb_second",
                 by=(str(arch),), kind="usage", basis=basis),
    ]  # fmt: skip


def ecr_repository(res: Resource, ctx: Context) -> Priced:
    return [
        ctx.item(res, category="Compute", item="image storage",
                 quantity=ctx.assumptions.image_gb_per_repository, price="ecr.gb_month",
                 kind="usage", basis="image_gb_per_repository"),
    ]  # fmt: skip
