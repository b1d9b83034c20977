"""`PlatformService` without a CloudFront origin: an internet-facing load balancer that
redirects HTTP to HTTPS and forwards everything (the construct's other mode; every shipped
environment puts CloudFront in front). Construct-level: one small stack for the module."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Environment, Stack, assertions
from aws_cdk import aws_ec2 as ec2

from l3_constructs.service import (
    CloudFrontOrigin,
    ImageSource,
    PlatformService,
    ServiceProps,
    replica_regions,
)
from tests.conftest import Synth, cdk_json_context
from tests.helpers import props, ref_id, resources


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    del synth  # waited for: the session synth may still be using jsii in its thread
    # A region: load balancer access logging needs one. Zones are named: no look-up.
    env = Environment(account="123456789012", region="eu-west-1")
    stack = Stack(App(context=cdk_json_context()), "Standalone", env=env)
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)
    PlatformService(
        stack,
        "Service",
        props=ServiceProps(
            domain_name="api.example.org",
            hosted_zone_id="Z0123456789ABCDEFGHIJ",
            zone_name="example.org",
            image=ImageSource(kind="ecr", repository_name="web/api", tag="v1"),
        ),
        vpc=vpc,
        load_balancer_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        secrets={},
    )
    return dict(assertions.Template.from_stack(stack).to_json())


def test_http_redirects_and_https_forwards_everything(template: dict[str, Any]) -> None:
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
    (forward,) = listeners[443]["DefaultActions"]
    (target_group,) = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert forward["Type"] == "forward"
    assert ref_id(forward["TargetGroupArn"]) == target_group
    assert resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule") == {}


def test_open_to_the_internet_with_no_origin_secret(template: dict[str, Any]) -> None:
    (group,) = [
        props(r)
        for k, r in resources(template, "AWS::EC2::SecurityGroup").items()
        if "LoadBalancerSecurityGroup" in k
    ]
    ingress = {(rule["CidrIp"], rule["FromPort"]) for rule in group["SecurityGroupIngress"]}
    assert ingress == {("0.0.0.0/0", 443), ("0.0.0.0/0", 80)}
    assert resources(template, "AWS::SecretsManager::Secret") == {}
    assert resources(template, "Custom::AWS") == {}


def test_origin_secret_is_replicated_only_to_another_region() -> None:
    origin = CloudFrontOrigin(header_name="X-Origin-Verify", secret_replica_region="us-east-1")
    assert replica_regions(origin, "ap-northeast-1") == ["us-east-1"]
    # An environment in us-east-1: the distribution reads the primary itself.
    assert replica_regions(origin, "us-east-1") == []
