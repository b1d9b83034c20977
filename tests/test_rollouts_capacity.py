"""Rollouts and capacity: each ECS service's deployment strategy (rolling, or ECS-native
blue/green, canary or linear shifting of its listener rule between two target groups) and
where its tasks run (LaunchType FARGATE, or a Fargate / Fargate Spot capacity provider
strategy), the cluster's capacity providers, and the load balancer's desync mitigation.

Expectations come twice: from each stage's config (every service of every stage, Dev
included), and as literals for the shipped choices (so a config edit that changes them is
seen here, not silently followed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.models import EnvironmentConfig
from config.service_parts import SpotMix
from stacks.compute_stack import capacity_provider
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import (
    ECS_SERVICES_BY_STAGE,
    only,
    props,
    ref_id,
    resources,
    standalone_platform,
)

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
#: Every ECS service (web, backend, worker) of every stage; jobs have no ECS service.
SERVICES = [
    pytest.param(stage, name, id=f"{stage}-{name}")
    for stage, names in ECS_SERVICES_BY_STAGE.items()
    for name in names
]
SHIFTING = ("blue_green", "canary", "linear")
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
ASSOCIATION = "AWS::ECS::ClusterCapacityProviderAssociations"


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Compute")


def _of(template: dict[str, Any], name: str, type_name: str) -> dict[str, dict[str, Any]]:
    """Resources of `type_name` under service `name` (its construct id is its name)."""
    prefix = name.replace("-", "")
    return {k: r for k, r in resources(template, type_name).items() if k.startswith(prefix)}


def _service(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, service),) = _of(template, name, "AWS::ECS::Service").items()
    return logical_id, service


def _deployment(synth: Synth, stage: str, name: str) -> dict[str, Any]:
    deployment: dict[str, Any] = props(_service(_t(synth, stage), name)[1])[
        "DeploymentConfiguration"
    ]
    return deployment


def test_every_service_is_covered(synth: Synth) -> None:
    listed = sorted((str(p.values[0]), str(p.values[1])) for p in SERVICES)
    assert listed == sorted(
        (stage, name)
        for stage in STAGES
        for name, s in synth.configs[stage].services.items()
        if s.kind != "job"
    )


# --------------------------------------------------------------------------- shipped choices

#: (stage, service) -> (strategy, canary %, linear step %, step bake, bake) as shipped.
SHIPPED_ROLLOUTS = {
    ("Test", "web"): ("rolling", None, None, None, None),
    ("Test", "api"): ("rolling", None, None, None, None),
    ("Test", "worker"): ("rolling", None, None, None, None),
    ("Stage", "web"): ("linear", None, 25, 2, 5),
    ("Stage", "api"): ("canary", 10, None, 5, 5),
    ("Stage", "worker"): ("rolling", None, None, None, None),
    ("Prod", "web"): ("blue_green", None, None, None, 10),
    ("Prod", "api"): ("blue_green", None, None, None, 10),
    ("Prod", "worker"): ("rolling", None, None, None, None),
}
#: The shipped capacity provider strategies (None: LaunchType FARGATE).
SPOT_ONLY = [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
ONE_ON_FARGATE_THEN_HALF = [
    {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
    {"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
]
SHIPPED_CAPACITY: dict[str, list[dict[str, Any]] | None] = {
    "Test": SPOT_ONLY,
    "Stage": ONE_ON_FARGATE_THEN_HALF,
    "Prod": None,
}


def test_shipped_strategies_cover_every_kind(synth: Synth) -> None:
    strategies = {
        (stage, name): s.deployment.strategy
        for stage in SHIPPED_STAGES
        for name, s in synth.configs[stage].services.items()
        if s.kind != "job"
    }
    assert strategies == {key: value[0] for key, value in SHIPPED_ROLLOUTS.items()}
    assert set(strategies.values()) == {"rolling", "blue_green", "canary", "linear"}


@pytest.mark.parametrize(("stage", "name"), list(SHIPPED_ROLLOUTS))
def test_shipped_deployment_configuration(synth: Synth, stage: str, name: str) -> None:
    strategy, canary, step, step_bake, bake = SHIPPED_ROLLOUTS[(stage, name)]
    deployment = _deployment(synth, stage, name)
    assert deployment["Strategy"] == strategy.upper()
    assert deployment.get("BakeTimeInMinutes") == bake
    assert deployment.get("CanaryConfiguration") == (
        None if canary is None else {"CanaryPercent": canary, "CanaryBakeTimeInMinutes": step_bake}
    )
    assert deployment.get("LinearConfiguration") == (
        None if step is None else {"StepPercent": step, "StepBakeTimeInMinutes": step_bake}
    )


@pytest.mark.parametrize("stage", SHIPPED_STAGES)
def test_shipped_capacity(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    expected = SHIPPED_CAPACITY[stage]
    for name in ("web", "api", "worker"):
        p = props(_service(template, name)[1])
        if expected is None:
            assert p["LaunchType"] == "FARGATE", name
            assert "CapacityProviderStrategy" not in p, name
        else:
            assert "LaunchType" not in p, name
            assert p["CapacityProviderStrategy"] == expected, name
    associations = resources(template, ASSOCIATION)
    if expected is None:
        assert associations == {}
    else:
        ((_, association),) = associations.items()
        assert props(association)["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


def test_shipped_desync_mode_is_defensive(synth: Synth) -> None:
    assert {synth.configs[s].compute.load_balancer_desync_mode for s in SHIPPED_STAGES} == {
        "defensive"
    }


# --------------------------------------------------------------------------- strategies


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_strategy_and_its_configuration(synth: Synth, stage: str, name: str) -> None:
    d = synth.configs[stage].services[name].deployment
    deployment = _deployment(synth, stage, name)
    assert deployment["Strategy"] == d.strategy.upper()
    # Failed tasks roll back under every strategy.
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    if d.strategy in SHIFTING:
        assert deployment["BakeTimeInMinutes"] == d.bake_time_minutes
    else:
        assert "BakeTimeInMinutes" not in deployment
    if d.strategy == "canary":
        assert deployment["CanaryConfiguration"] == {
            "CanaryPercent": d.canary_percent,
            "CanaryBakeTimeInMinutes": d.step_bake_minutes,
        }
    else:
        assert "CanaryConfiguration" not in deployment
    if d.strategy == "linear":
        assert deployment["LinearConfiguration"] == {
            "StepPercent": d.linear_step_percent,
            "StepBakeTimeInMinutes": d.step_bake_minutes,
        }
    else:
        assert "LinearConfiguration" not in deployment


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_deployment_alarms_roll_back_and_watch_every_group(
    synth: Synth, stage: str, name: str
) -> None:
    """A web service's alarms roll a deployment back under every strategy, and read every
    target group production traffic may be on (both while traffic shifts)."""
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    deployment = _deployment(synth, stage, name)
    if s.kind != "web":
        assert "Alarms" not in deployment
        return
    alarms = deployment["Alarms"]
    assert (alarms["Enable"], alarms["Rollback"]) == (True, True)
    names = {ref_id(a) for a in alarms["AlarmNames"]}
    assert len(names) == 2
    groups = set(_of(template, name, TARGET_GROUP))
    for alarm_id in names:
        alarm = json.dumps(props(template["Resources"][alarm_id]))
        read = {g for g in groups if f'"{g}"' in alarm}
        assert read == groups, alarm_id


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_traffic_shifting_moves_the_production_rule_between_two_groups(
    synth: Synth, stage: str, name: str
) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    p = props(_service(template, name)[1])
    groups = _of(template, name, TARGET_GROUP)
    if s.kind != "web":
        assert groups == {}
        assert not p.get("LoadBalancers")
        return
    ((rule_id, rule),) = _of(template, name, "AWS::ElasticLoadBalancingV2::ListenerRule").items()
    (action,) = props(rule)["Actions"]
    (balancer,) = p["LoadBalancers"]
    primary = ref_id(balancer["TargetGroupArn"])
    if s.deployment.strategy not in SHIFTING:
        assert set(groups) == {primary}
        assert ref_id(action["TargetGroupArn"]) == primary
        assert "AdvancedConfiguration" not in balancer
        return
    assert len(groups) == 2
    advanced = balancer["AdvancedConfiguration"]
    alternate = ref_id(advanced["AlternateTargetGroupArn"])
    assert {primary, alternate} == set(groups)
    # ECS rewrites this rule's weights: it names both groups, production on the primary.
    weights = {
        ref_id(g["TargetGroupArn"]): g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]
    }
    assert weights == {primary: 100, alternate: 0}
    assert ref_id(advanced["ProductionListenerRule"]) == rule_id
    role_id = ref_id(advanced["RoleArn"])
    role = props(template["Resources"][role_id])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert "AmazonECSInfrastructureRolePolicyForLoadBalancers" in json.dumps(
        role["ManagedPolicyArns"]
    )


# --------------------------------------------------------------------------- capacity


def _expected_strategy(provider: str, mix: SpotMix) -> list[dict[str, Any]] | None:
    if provider == "fargate":
        return None
    expected: list[dict[str, Any]] = []
    if mix.fargate_base or mix.fargate_weight:
        fargate: dict[str, Any] = {"CapacityProvider": "FARGATE", "Weight": mix.fargate_weight}
        if mix.fargate_base:
            fargate["Base"] = mix.fargate_base
        expected.append(fargate)
    if mix.spot_weight:
        expected.append({"CapacityProvider": "FARGATE_SPOT", "Weight": mix.spot_weight})
    return expected


@pytest.mark.parametrize(("stage", "name"), SERVICES)
def test_capacity_provider_strategy_per_config(synth: Synth, stage: str, name: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    _, service = _service(template, name)
    p = props(service)
    expected = _expected_strategy(*capacity_provider(config, config.services[name]))
    if expected is None:
        assert p["LaunchType"] == "FARGATE"
        assert "CapacityProviderStrategy" not in p
        return
    assert "LaunchType" not in p
    assert p["CapacityProviderStrategy"] == expected
    # Created only once the cluster has the providers (ECS refuses others); on exactly that
    # resource (its Ref already orders it after the cluster).
    association_id, _ = only(template, ASSOCIATION)
    cluster_id, _ = only(template, "AWS::ECS::Cluster")
    assert association_id in service["DependsOn"]
    assert cluster_id not in service["DependsOn"]


@pytest.mark.parametrize("stage", STAGES)
def test_cluster_capacity_providers_only_where_spot_runs(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    spot = any(
        capacity_provider(config, s)[0] == "fargate_spot"
        for s in config.services.values()
        if s.kind != "job"
    )
    associations = resources(template, ASSOCIATION)
    if not spot:
        assert associations == {}
        return
    ((_, association),) = associations.items()
    p = props(association)
    cluster_id, _ = only(template, "AWS::ECS::Cluster")
    assert p["Cluster"] == {"Ref": cluster_id}
    assert p["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    # No cluster default: every service states its own launch type or strategy.
    assert p["DefaultCapacityProviderStrategy"] == []
    assert "CapacityProviderStrategy" not in json.dumps(
        props(only(template, "AWS::ECS::Cluster")[1])
    )


@pytest.mark.parametrize("stage", STAGES)
def test_jobs_always_run_on_fargate(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    jobs = [n for n, s in synth.configs[stage].services.items() if s.kind == "job"]
    assert jobs
    for name in jobs:
        ((_, machine),) = _of(template, name, "AWS::StepFunctions::StateMachine").items()
        definition = json.dumps(props(machine)["DefinitionString"])
        assert '\\"LaunchType\\":\\"FARGATE\\"' in definition, name
        assert "CapacityProviderStrategy" not in definition, name


def _with(config: EnvironmentConfig, name: str, **changes: Any) -> EnvironmentConfig:
    services = dict(config.services)
    services[name] = services[name].model_copy(update=changes)
    return config.model_copy(update={"services": services})


def test_a_service_overrides_the_environments_capacity(synth: Synth) -> None:
    """`services.<n>.capacity_provider` / `spot_mix` win over `compute`'s; null: compute's."""
    test = synth.configs["Test"]
    assert capacity_provider(test, test.services["api"]) == ("fargate_spot", test.compute.spot_mix)
    on_fargate = _with(test, "api", capacity_provider="fargate")
    assert capacity_provider(on_fargate, on_fargate.services["api"])[0] == "fargate"
    mix = SpotMix(fargate_base=2, fargate_weight=1, spot_weight=3)
    mixed = _with(synth.configs["Prod"], "web", capacity_provider="fargate_spot", spot_mix=mix)
    assert capacity_provider(mixed, mixed.services["web"]) == ("fargate_spot", mix)
    assert _expected_strategy("fargate_spot", mix) == [
        {"CapacityProvider": "FARGATE", "Base": 2, "Weight": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 3},
    ]
    assert capacity_provider(mixed, mixed.services["api"])[0] == "fargate"


# --------------------------------------------------------------------------- load balancer


@pytest.mark.parametrize("stage", STAGES)
def test_load_balancer_desync_mitigation(synth: Synth, stage: str) -> None:
    _, balancer = only(_t(synth, stage), "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in props(balancer)["LoadBalancerAttributes"]}
    assert (
        attributes["routing.http.desync_mitigation_mode"]
        == synth.configs[stage].compute.load_balancer_desync_mode
    )


# --------------------------------------------------------------------------- refusals

REFUSALS = [
    pytest.param({"deployment_strategy": "canary"}, "canary needs a route", id="canary-no-route"),
    pytest.param({"deployment_strategy": "linear"}, "linear needs a route", id="linear-no-route"),
    pytest.param(
        {"deployment_strategy": "canary", "canary_percent": 10.05},
        "multiple of 0.1 from 0.1 to 100.0",
        id="canary-percent",
    ),
    pytest.param(
        {"deployment_strategy": "linear", "linear_step_percent": 2.0},
        "multiple of 0.1 from 3.0 to 100.0",
        id="linear-step",
    ),
    pytest.param(
        {"capacity_provider": "fargate_spot", "fargate_weight": 0, "spot_weight": 0},
        "add to zero",
        id="no-weight",
    ),
    pytest.param({"capacity_provider": "fargate_spot"}, "no capacity providers", id="no-providers"),
]


@pytest.fixture(scope="module")
def refusal_scope(synth: Synth) -> tuple[Any, Any, Any, Any]:
    """A small stack (never synthesized) with a cluster without capacity providers."""
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    platform: tuple[Any, Any, Any, Any] = standalone_platform(
        "Refusals", nat_gateways=0, app_context={}
    )
    return platform


@pytest.mark.parametrize(("changes", "message"), REFUSALS)
def test_the_construct_refuses(
    refusal_scope: tuple[Any, Any, Any, Any],
    request: pytest.FixtureRequest,
    changes: dict[str, Any],
    message: str,
) -> None:
    from aws_cdk import aws_ec2 as ec2  # noqa: PLC0415

    from l3_constructs.service import PlatformService, ServiceProps, WebRoute  # noqa: PLC0415
    from l3_constructs.workload import ImageSource  # noqa: PLC0415

    stack, cluster, load_balancer, vpc = refusal_scope
    # A step percent is checked on a web service (the route is not what is refused).
    routed = any(key.endswith("percent") for key in changes)
    service_props = ServiceProps(
        name="bad",
        image=ImageSource(kind="ecr", repository_name="web/app", tag="v1"),
        port=3000,
        route=WebRoute(priority=10) if routed else None,
        **changes,
    )
    with pytest.raises(ValueError, match=message):
        PlatformService(
            stack,
            request.node.callspec.id,
            props=service_props,
            cluster=cluster,
            vpc=vpc,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            secrets={},
            load_balancer=load_balancer if routed else None,
        )
