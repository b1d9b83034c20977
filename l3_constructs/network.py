"""PlatformNetwork: a VPC over named zones with public / private / isolated subnets, NAT,
VPC endpoints, encrypted flow logs and a locked-down default security group.

Knows nothing of environments: every choice arrives in `NetworkProps`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.retention import retention_days
from l3_constructs.shared import KEY_USE_ACTIONS, allow_cloudwatch_logs, expiring_log_bucket

NatMode = Literal["none", "single", "per_az"]

_Service = ec2.InterfaceVpcEndpointAwsService

#: Endpoint short name (``com.amazonaws.<region>.<name>``) -> CDK's service for it, read on
#: use: importing the constructs calls nothing in jsii (`synthesis/template_checks`).
INTERFACE_ENDPOINT_SERVICES: dict[str, Callable[[], ec2.InterfaceVpcEndpointAwsService]] = {
    "ecr.api": lambda: _Service.ECR,
    "ecr.dkr": lambda: _Service.ECR_DOCKER,
    "logs": lambda: _Service.CLOUDWATCH_LOGS,
    "monitoring": lambda: _Service.CLOUDWATCH_MONITORING,
    "ssm": lambda: _Service.SSM,
    "ssmmessages": lambda: _Service.SSM_MESSAGES,
    "ec2messages": lambda: _Service.EC2_MESSAGES,
    "secretsmanager": lambda: _Service.SECRETS_MANAGER,
    "kms": lambda: _Service.KMS,
    "sts": lambda: _Service.STS,
    "ecs": lambda: _Service.ECS,
    "ecs-agent": lambda: _Service.ECS_AGENT,
    "ecs-telemetry": lambda: _Service.ECS_TELEMETRY,
    "xray": lambda: _Service.XRAY,
    "elasticloadbalancing": lambda: _Service.ELASTIC_LOAD_BALANCING,
}

PUBLIC = "Public"
PRIVATE = "Private"
ISOLATED = "Isolated"


@dataclass(frozen=True)
class FlowLogProps:
    destination: Literal["cloudwatch", "s3"] = "cloudwatch"
    retention_days: int = 90
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    #: Keep the flow-log key and log group / bucket when the stack is deleted.
    retain_on_delete: bool = True


@dataclass(frozen=True)
class NetworkProps:
    cidr: str
    availability_zones: tuple[str, ...]
    nat: NatMode = "single"
    public_mask: int = 24
    private_mask: int = 22
    isolated_mask: int = 24
    interface_endpoints: tuple[str, ...] = ()
    flow_logs: FlowLogProps = FlowLogProps()
    #: Appended to the acknowledgment of the public subnets' route when `nat` is `none`
    #: (tasks with public IPs instead of a NAT gateway): what that saves a month.
    cost_note: str = ""
    #: The flow-log key also serves the environment's other regional stacks (they take
    #: `PlatformNetwork.flow_log_key`): retained, whatever the flow logs' own policy, since
    #: retained log groups and repositories stay readable only while it exists.
    shared_key: bool = False


_NAT_GATEWAYS = {"none": 0, "single": 1}


class PlatformNetwork(Construct):
    """VPC and everything around it that later stacks need.

    Exposes `vpc`, the subnet selections `public_subnets`, `private_subnets` and
    `isolated_subnets`, `endpoint_security_group`, `private_subnets_have_egress`,
    `flow_log_key` and `shared_key` (with `NetworkProps.shared_key`, the flow-log key as the
    environment's one regional key, for the other stacks to take; else None).
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: NetworkProps) -> None:
        super().__init__(scope, construct_id)
        self.private_subnets_have_egress = props.nat != "none"
        private_type = (
            ec2.SubnetType.PRIVATE_WITH_EGRESS
            if self.private_subnets_have_egress
            else ec2.SubnetType.PRIVATE_ISOLATED
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(props.cidr),
            availability_zones=list(props.availability_zones),
            nat_gateways=_NAT_GATEWAYS.get(props.nat, len(props.availability_zones)),
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=props.public_mask,
                    # Nothing here needs an address at launch: NAT gateways have EIPs, the
                    # ALB its own, and Fargate tasks ask for one per task (assignPublicIp).
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name=PRIVATE, subnet_type=private_type, cidr_mask=props.private_mask
                ),
                ec2.SubnetConfiguration(
                    name=ISOLATED,
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                    cidr_mask=props.isolated_mask,
                ),
            ],
            restrict_default_security_group=True,
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        self.public_subnets = ec2.SubnetSelection(subnet_group_name=PUBLIC)
        self.private_subnets = ec2.SubnetSelection(subnet_group_name=PRIVATE)
        self.isolated_subnets = ec2.SubnetSelection(subnet_group_name=ISOLATED)

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        # The literal CIDR, not the VPC's CidrBlock attribute: same value, but one that
        # cdk-nag (and a reviewer reading the template) can evaluate.
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(props.cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name in props.interface_endpoints:
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                _endpoint_id(name),
                service=INTERFACE_ENDPOINT_SERVICES[name](),
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                subnets=self.private_subnets,
                open=False,
            )

        self._add_flow_logs(props.flow_logs, shared_key=props.shared_key)
        self.shared_key: kms.Key | None = self.flow_log_key if props.shared_key else None
        self._acknowledge_findings(props)

    def _add_flow_logs(self, props: FlowLogProps, *, shared_key: bool) -> None:
        stack = Stack.of(self)
        removal = RemovalPolicy.RETAIN if props.retain_on_delete else RemovalPolicy.DESTROY
        self.flow_log_key = kms.Key(
            self,
            "FlowLogKey",
            description=f"Encrypts the VPC flow logs and the environment's regional data of "
            f"{stack.stack_name} (one shared key)"
            if shared_key
            else f"Encrypts the VPC flow logs of {stack.stack_name}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if shared_key else removal,
        )
        traffic = ec2.FlowLogTrafficType[props.traffic_type]
        if props.destination == "cloudwatch":
            allow_cloudwatch_logs(self.flow_log_key, "AllowCloudWatchLogsForFlowLogGroup")
            log_group = logs.LogGroup(
                self,
                "FlowLogGroup",
                encryption_key=self.flow_log_key,
                retention=retention_days(props.retention_days),
                removal_policy=removal,
            )
            role = iam.Role(
                self,
                "FlowLogRole",
                assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
                description="Lets VPC flow logs write to their one log group",
            )
            acknowledge(
                role,
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "The inline policy is the CDK grant that lets this single-purpose flow-log "
                "role write to its one log group; it has no other holder to share it with.",
            )
            destination = ec2.FlowLogDestination.to_cloud_watch_logs(log_group, role)
            self.flow_log_destination: logs.LogGroup | s3.Bucket = log_group
        else:
            self.flow_log_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowLogDeliveryForFlowLogBucket",
                    principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                    actions=list(KEY_USE_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
            bucket = expiring_log_bucket(
                self,
                "FlowLogBucket",
                retention_days=props.retention_days,
                removal_policy=removal,
                encryption_key=self.flow_log_key,
            )
            acknowledge(
                bucket,
                ("AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled"),
                "This bucket only receives VPC flow logs, which are themselves access logs; "
                "logging access to it would need a further log bucket with the same gap.",
            )
            skip_checkov(
                bucket,
                "CKV_AWS_18",
                "This bucket only receives VPC flow logs, which are themselves access logs; "
                "logging access to it would need a further log bucket with the same gap.",
            )
            acknowledge(
                bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Flow logs describe this region's VPC and expire after the configured "
                "retention; a cross-region replica adds cost without aiding recovery.",
            )
            destination = ec2.FlowLogDestination.to_s3(bucket)
            self.flow_log_destination = bucket
        self.flow_log = self.vpc.add_flow_log(
            "FlowLog", destination=destination, traffic_type=traffic
        )

    def _acknowledge_findings(self, props: NetworkProps) -> None:
        for subnet in [
            *self.vpc.public_subnets,
            *self.vpc.private_subnets,
            *self.vpc.isolated_subnets,
        ]:
            acknowledge(
                subnet,
                "CloudFormation-Validate::W3010",
                "The zones are named in the props on purpose: synth runs offline, and without "
                "names CDK writes placeholder zones that fail at deploy time.",
            )
        for subnet in self.vpc.public_subnets:
            acknowledge(
                subnet,
                "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                "Public subnets exist to reach the internet: they hold an internet-facing "
                "load balancer (one reached through a CloudFront VPC origin is internal, in "
                "the private subnets) and the NAT gateways (and, without NAT, tasks with "
                "public IPs)."
                + (
                    " Without NAT, tasks with public IPs are reachable only through their "
                    f"security groups, which admit the load balancer alone. {props.cost_note}"
                    if props.nat == "none" and props.cost_note
                    else ""
                ),
            )
        # CDK's handler that removes the default security group's rules (a generic
        # CfnResource, which cdk-nag's Lambda rules do not check).
        handler = (
            Stack.of(self)
            .node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
            .node.find_child("Handler")
        )
        skip_checkov(
            handler,
            "CKV_AWS_117",
            "CDK's handler that removes the default security group's rules calls only the EC2 "
            "API at deploy time; it needs nothing inside the VPC, which may have no NAT.",
        )
        skip_checkov(
            handler,
            "CKV_AWS_115",
            "CDK's default-security-group handler runs once per VPC deployment; reserved "
            "concurrency would only withhold capacity from other functions.",
        )
        skip_checkov(
            handler,
            "CKV_AWS_116",
            "CDK's default-security-group handler answers CloudFormation itself, which fails "
            "the deployment on an error; a dead-letter queue would have no reader.",
        )


def _endpoint_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", ".").split(".")) + "Endpoint"
