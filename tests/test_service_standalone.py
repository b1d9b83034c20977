"""`PlatformLoadBalancer` without a CloudFront origin, and `PlatformService` options no shipped
environment uses: an internet-facing load balancer that redirects HTTP to HTTPS and routes by
the viewer's Host itself, a backend on Service Connect only, and the construct's refusals.
Construct-level: one small stack for the module."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack, assertions
from aws_cdk import aws_ec2 as ec2

from l3_constructs.cluster import PlatformCluster
from l3_constructs.load_balancer import (
    CloudFrontOrigin,
    PlatformLoadBalancer,
    replica_regions,
)
from l3_constructs.service import PlatformService, ServiceProps, WebRoute
from l3_constructs.workload import ImageSource
from tests.conftest import Synth, cdk_json_context
from tests.helpers import props, ref_id, resources, standalone_platform

_IMAGE = ImageSource(kind="ecr", repository_name="web/api", tag="v1")


@pytest.fixture(scope="module")
def built(synth: Synth) -> tuple[Stack, PlatformCluster, PlatformLoadBalancer, ec2.Vpc]:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    platform: tuple[Stack, PlatformCluster, PlatformLoadBalancer, ec2.Vpc] = standalone_platform(
        "Standalone", nat_gateways=1, app_context=cdk_json_context()
    )
    return platform


@pytest.fixture(scope="module")
def template(built: tuple[Stack, PlatformCluster, PlatformLoadBalancer, ec2.Vpc]) -> dict[str, Any]:
    stack, cluster, load_balancer, vpc = built
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    web = PlatformService(
        stack,
        "admin",
        props=ServiceProps(
            name="admin",
            image=_IMAGE,
            route=WebRoute(priority=10, hosts=("admin.example.org",)),
            service_connect_client=True,
        ),
        cluster=cluster,
        vpc=vpc,
        task_subnets=private,
        secrets={},
        load_balancer=load_balancer,
    )
    backend = PlatformService(
        stack,
        "jobs",
        props=ServiceProps(name="jobs", image=_IMAGE, port=9000, service_connect_server=True),
        cluster=cluster,
        vpc=vpc,
        task_subnets=private,
        secrets={},
    )
    backend.allow_from(web)
    return dict(assertions.Template.from_stack(stack).to_json())


def test_http_redirects_and_https_routes_by_the_host_header(template: dict[str, Any]) -> None:
    listeners = {
        props(r)["Port"]: props(r)
        for r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert set(listeners) == {80, 443}
    assert listeners[80]["DefaultActions"] == [
        {
            "RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"},
            "Type": "redirect",
        }
    ]
    # No rule matches: 404 (no origin secret to demand without CloudFront).
    assert listeners[443]["DefaultActions"] == [
        {"FixedResponseConfig": {"StatusCode": "404"}, "Type": "fixed-response"}
    ]
    ((_, rule),) = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").items()
    assert props(rule)["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}},
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.example.org"]}},
    ]
    (target_group,) = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    (action,) = props(rule)["Actions"]
    assert ref_id(action["TargetGroupArn"]) == target_group


def test_open_to_the_internet_with_no_origin_secret(template: dict[str, Any]) -> None:
    (group,) = [
        props(r)
        for k, r in resources(template, "AWS::EC2::SecurityGroup").items()
        if k.startswith("LoadBalancerSecurityGroup")
    ]
    ingress = {(rule["CidrIp"], rule["FromPort"]) for rule in group["SecurityGroupIngress"]}
    assert ingress == {("0.0.0.0/0", 443), ("0.0.0.0/0", 80)}
    assert resources(template, "AWS::SecretsManager::Secret") == {}
    assert resources(template, "Custom::AWS") == {}


def test_backend_is_on_service_connect_only(template: dict[str, Any]) -> None:
    services = resources(template, "AWS::ECS::Service")
    (jobs,) = [props(s) for k, s in services.items() if k.startswith("jobs")]
    assert not jobs.get("LoadBalancers")
    assert "Alarms" not in jobs["DeploymentConfiguration"]
    assert jobs["ServiceConnectConfiguration"]["Services"] == [
        {
            "ClientAliases": [{"DnsName": "jobs", "Port": 9000}],
            "DiscoveryName": "jobs",
            "PortName": "jobs",
        }
    ]
    (admin,) = [props(s) for k, s in services.items() if k.startswith("admin")]
    assert "Services" not in admin["ServiceConnectConfiguration"]
    # The client's tasks may call the backend's port, nothing else opens it.
    jobs_group = ref_id(jobs["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0])
    admin_group = ref_id(admin["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0])
    ingress = [
        props(r)
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if ref_id(props(r)["GroupId"]) == jobs_group
    ]
    assert [(ref_id(r["SourceSecurityGroupId"]), r["FromPort"]) for r in ingress] == [
        (admin_group, 9000)
    ]


def test_refusals(built: tuple[Stack, PlatformCluster, PlatformLoadBalancer, ec2.Vpc]) -> None:
    stack, cluster, load_balancer, vpc = built
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    with pytest.raises(ValueError, match="blue_green needs a route"):
        PlatformService(
            stack,
            "BadBlueGreen",
            props=ServiceProps(name="bad", image=_IMAGE, deployment_strategy="blue_green"),
            cluster=cluster,
            vpc=vpc,
            task_subnets=private,
            secrets={},
        )
    with pytest.raises(ValueError, match="has a route but no load balancer"):
        PlatformService(
            stack,
            "BadRoute",
            props=ServiceProps(name="bad", image=_IMAGE, route=WebRoute(priority=5)),
            cluster=cluster,
            vpc=vpc,
            task_subnets=private,
            secrets={},
        )
    del load_balancer


def test_origin_secret_is_replicated_only_to_another_region() -> None:
    origin = CloudFrontOrigin(header_name="X-Origin-Verify", secret_replica_region="us-east-1")
    assert replica_regions(origin, "ap-northeast-1") == ["us-east-1"]
    assert replica_regions(origin, "us-east-1") == []


def test_fixed_capacity_gets_no_scaling(synth: Synth) -> None:
    """min = max: no scalable target and no CPU / memory target tracking (each policy keeps
    two CloudWatch alarms that could never change the count); min < max: both policies."""
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    stack, cluster, _, vpc = standalone_platform(
        "FixedCapacity", nat_gateways=1, app_context=cdk_json_context()
    )
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    for name, (low, high) in {"fixed": (2, 2), "scaled": (1, 3)}.items():
        PlatformService(
            stack,
            name,
            props=ServiceProps(
                name=name, image=_IMAGE, min_count=low, desired_count=low, max_count=high
            ),
            cluster=cluster,
            vpc=vpc,
            task_subnets=private,
            secrets={},
        )
    template = dict(assertions.Template.from_stack(stack).to_json())
    services = resources(template, "AWS::ECS::Service")
    assert {k[:5]: props(v)["DesiredCount"] for k, v in services.items()} == {
        "fixed": 2,
        "scale": 1,
    }
    targets = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert [(props(t)["MinCapacity"], props(t)["MaxCapacity"]) for t in targets.values()] == [
        (1, 3)
    ]
    assert all(k.startswith("scaled") for k in targets)
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert len(policies) == 2
    assert all(k.startswith("scaled") for k in policies)
    assert {
        props(p)["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]
        for p in policies.values()
    } == {"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"}
    # No alarm of the fixed service's own (the scaled one's come with its policies, unseen).
    assert not [k for k in resources(template, "AWS::CloudWatch::Alarm") if k.startswith("fixed")]
