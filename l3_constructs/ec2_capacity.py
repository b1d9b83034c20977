"""Ec2Capacity: the EC2 instances of an ECS cluster, as one capacity provider.

An Auto Scaling group of the latest ECS-optimized Amazon Linux 2023 image for the group's
architecture, resolved by CloudFormation at every deployment from AWS's public SSM parameter
(never looked up at synthesis, so synth stays offline and a new image arrives with the next
deployment), launched from a template that

- requires IMDSv2 with a hop limit of 1: a container on a bridge network is one hop further
  and gets no answer, so it cannot take the instance's credentials (awsvpc tasks are cut off
  from the metadata service by the agent, `ECS_AWSVPC_BLOCK_IMDS`);
- encrypts the gp3 root volume with the given customer-managed key (whose policy lets
  Auto Scaling's service-linked role use it, or no instance would ever launch);
- has no SSH key (Session Manager reaches the instances instead) and detailed monitoring;
- gives the instances a role that does exactly what the ECS agent and the SSM agent need.

The capacity provider scales the group to the tasks' needs (managed scaling at the target
capacity), protects instances that run tasks from scale-in (managed termination protection)
and moves tasks off an instance before it goes (managed draining), so a scale-in never kills
a running task. Optional Spot instances beyond an on-demand share, price-capacity-optimized,
with Spot draining on.

Knows nothing of environments: every choice arrives in `Ec2CapacityProps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from l3_constructs.compliance import (
    acknowledge,
    acknowledge_wildcards,
    resource_finding,
    skip_checkov,
)
from l3_constructs.shared import KEY_USE_ACTIONS

#: The dynamic host ports of bridge networking (ECS's ephemeral range on Amazon Linux).
EPHEMERAL_PORTS: tuple[int, int] = (32768, 65535)
_HARDWARE = {"X86_64": ecs.AmiHardwareType.STANDARD, "ARM64": ecs.AmiHardwareType.ARM}


@dataclass(frozen=True)
class SpotInstancesProps:
    on_demand_base: int = 0
    #: Percent of the instances beyond the base that are on demand.
    on_demand_percent: int = 0


@dataclass(frozen=True)
class Ec2CapacityProps:
    #: Instance types, preferred first, all of `architecture`.
    instance_types: tuple[str, ...]
    architecture: Literal["X86_64", "ARM64"]
    min_instances: int = 0
    max_instances: int = 2
    target_capacity_percent: int = 100
    spot: SpotInstancesProps | None = None
    root_volume_gib: int = 30
    detailed_monitoring: bool = True


class Ec2Capacity(Construct):
    """Exposes `security_group` (the instances'; bridge tasks share it), `role`,
    `launch_template`, `auto_scaling_group` and `capacity_provider`, already added to
    `cluster`.

    The security group allows outbound HTTPS only (the agents and image pulls); a web service
    on a bridge network opens the dynamic host ports to its load balancer's security group
    (`allow_load_balancer`), the only inbound rule the instances get.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: Ec2CapacityProps,
        cluster: ecs.Cluster,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        key: kms.Key,
    ) -> None:
        super().__init__(scope, construct_id)
        if not props.instance_types:
            raise ValueError("Ec2Capacity needs at least one instance type")
        if props.min_instances > props.max_instances:
            raise ValueError("min_instances is more than max_instances")
        stack = Stack.of(self)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"ECS instances of {stack.stack_name}: dynamic host ports from the "
            "load balancer only, HTTPS out",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the ECS, ECR, SSM and logs APIs"
        )
        self.role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"ECS container instances of {stack.stack_name}: the ECS agent and "
            "Session Manager",
        )
        self._grant_session_manager()
        _allow_auto_scaling_to_encrypt(key)
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(
            # awsvpc tasks: no route to the instance metadata service (its credentials).
            "echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config",
            *(["echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config"]
              if props.spot else []),
        )  # fmt: skip
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(_HARDWARE[props.architecture]),
            instance_type=ec2.InstanceType(props.instance_types[0]),
            role=self.role,
            security_group=self.security_group,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            detailed_monitoring=props.detailed_monitoring,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gib,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        kms_key=key,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "AutoScalingGroup",
            vpc=vpc,
            vpc_subnets=subnets,
            min_capacity=props.min_instances,
            max_capacity=props.max_instances,
            mixed_instances_policy=autoscaling.MixedInstancesPolicy(
                launch_template=self.launch_template,
                launch_template_overrides=[
                    autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(name))
                    for name in props.instance_types
                ],
                instances_distribution=_distribution(props.spot),
            ),
            capacity_rebalance=props.spot is not None,
            # ECS, not the load balancer, decides which tasks are healthy; an instance is
            # replaced when EC2 finds it impaired.
            health_checks=autoscaling.HealthChecks.ec2(grace_period=Duration.minutes(5)),
        )
        self.capacity_provider = ecs.AsgCapacityProvider(
            self,
            "CapacityProvider",
            auto_scaling_group=self.auto_scaling_group,
            enable_managed_scaling=True,
            target_capacity_percent=props.target_capacity_percent,
            enable_managed_termination_protection=True,
            enable_managed_draining=True,
            spot_instance_draining=props.spot is not None,
        )
        # Adds the cluster's name to the user data and the agent's permissions to the role.
        cluster.add_asg_capacity_provider(self.capacity_provider)
        self._acknowledge_findings()

    def allow_load_balancer(self, load_balancer: ec2.IConnectable) -> None:
        """Open the dynamic host ports to the load balancer (bridge networking)."""
        self.security_group.connections.allow_from(
            load_balancer,
            ec2.Port.tcp_range(*EPHEMERAL_PORTS),
            "Dynamic host ports from the load balancer",
        )

    def _grant_session_manager(self) -> None:
        """What the SSM agent needs for Session Manager (instead of SSH): register the
        instance and open session channels. A subset of AmazonSSMManagedInstanceCore,
        which would also let the instance read every parameter and document."""
        stack = Stack.of(self)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:UpdateInstanceInformation"],
                resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                resources=["*"],
            )
        )

    def _acknowledge_findings(self) -> None:
        skip_checkov(
            self.role.node.find_child("DefaultPolicy"),
            "CKV_AWS_111",
            "The ECS agent's and SSM agent's own actions without a resource-level form "
            "(ecs:DiscoverPollEndpoint, the agent's log writes, the Session Manager channels); "
            "the cluster-scoped ones name the cluster. The role serves these instances alone.",
        )
        stack = Stack.of(self)
        instances = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        acknowledge_wildcards(
            self.role,
            {
                "Resource::*": "The ECS agent's and SSM agent's own actions: ecs:Poll and "
                "StartTelemetrySession are limited to this cluster by condition; "
                "ecs:DiscoverPollEndpoint, ecr:GetAuthorizationToken, the agent's log writes "
                "and the Session Manager channels (ssmmessages, ec2messages) have no "
                "resource-level form. The role serves these instances alone.",
                "Action::ecs:Submit*": "CDK's grant to the ECS agent: ecs:Submit* (container, "
                "task and attachment state changes) on this cluster only.",
                resource_finding(instances): "ssm:UpdateInstanceInformation: an instance "
                "registers itself with Systems Manager; its id is not known before launch.",
            },
        )
        acknowledge(
            self.role,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The inline policy is CDK's grant of the ECS agent's actions on this cluster plus "
            "the Session Manager subset this construct adds; the role serves these instances "
            "alone.",
        )
        acknowledge(
            self.auto_scaling_group,
            ("AwsSolutions-EC26", "NIST.800.53.R5-EC2IMDSv2Enabled"),
            "The rules cannot read a launch template through a mixed instances policy; the "
            "group's one launch template requires IMDSv2 (hop limit 1) and encrypts its one "
            "volume with the cluster key (tests/test_ec2_capacity.py asserts both).",
        )
        acknowledge(
            self.auto_scaling_group,
            ("AwsSolutions-AS3", "NIST.800.53.R5-AutoScalingGroupELBHealthCheckRequired"),
            "The ECS capacity provider manages this group (managed scaling, termination "
            "protection, draining); ECS checks and replaces unhealthy tasks, and the load "
            "balancer targets tasks, not instances, so EC2 status checks are the group's "
            "health check and scaling events are ECS's to report.",
        )


def _distribution(spot: SpotInstancesProps | None) -> autoscaling.InstancesDistribution:
    if spot is None:
        return autoscaling.InstancesDistribution(
            on_demand_base_capacity=0,
            on_demand_percentage_above_base_capacity=100,
            on_demand_allocation_strategy=autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
        )
    return autoscaling.InstancesDistribution(
        on_demand_base_capacity=spot.on_demand_base,
        on_demand_percentage_above_base_capacity=spot.on_demand_percent,
        on_demand_allocation_strategy=autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
        spot_allocation_strategy=autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
    )


def _allow_auto_scaling_to_encrypt(key: kms.Key) -> None:
    """Auto Scaling launches the instances with its service-linked role, which must be able
    to use the key of their encrypted volumes (AWS: "Required KMS key policy for use with
    encrypted volumes"). The role is named by a condition, not as a principal: a key policy
    naming a role that does not exist yet (an account that never had an Auto Scaling group)
    is refused."""
    stack = Stack.of(key)
    service_linked_role = stack.format_arn(
        service="iam",
        region="",
        resource="role",
        resource_name="aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
    )
    same_account = {
        "StringEquals": {"kms:CallerAccount": stack.account},
        "ArnEquals": {"aws:PrincipalArn": service_linked_role},
    }
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowAutoScalingToUseKeyForEncryptedVolumes",
            principals=[iam.AnyPrincipal()],
            actions=list(KEY_USE_ACTIONS),
            resources=["*"],
            conditions=same_account,
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowAutoScalingToGrantKeyForEncryptedVolumes",
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={**same_account, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )
    skip_checkov(
        key,
        "CKV_AWS_33",
        "The two statements with principal * let only Auto Scaling's service-linked role of "
        "this account use the key for the instances' volumes (aws:PrincipalArn and "
        "kms:CallerAccount conditions; grants only for AWS resources); naming the role as "
        "principal would fail in an account that has no Auto Scaling group yet.",
    )
