"""Which rule prices each CloudFormation type, and which types cost nothing of their own.

A type in neither list is reported as "not priced" (a gap), never as zero. A `Custom::`
type costs nothing of its own: the handler function behind a custom resource is an
`AWS::Lambda::Function` of the template, priced as one.
"""

from __future__ import annotations

from collections.abc import Callable

from cost_estimate import (
    rules_compute,
    rules_database,
    rules_delivery,
    rules_edge,
    rules_network,
    rules_observability,
    rules_security,
)
from cost_estimate.assembly import Resource
from cost_estimate.context import Context, NoChargeError, UnpriceableError
from cost_estimate.model import Gap, LineItem

Rule = Callable[[Resource, Context], list[LineItem | Gap]]


def _scaling_policy(res: Resource, ctx: Context) -> list[LineItem | Gap]:
    """A target-tracking policy makes two CloudWatch alarms (high and low) of its own."""
    if res.properties.get("PolicyType") != "TargetTrackingScaling":
        raise NoChargeError("a step or simple scaling policy: its alarms are in the template")
    return [
        ctx.item(res, category="Monitoring", item="alarms of target tracking (2)", quantity=2,
                 price="cloudwatch.alarm_metric_month", kind="fixed",
                 basis="the high and the low alarm the policy creates"),
    ]  # fmt: skip


def _capacity_provider(res: Resource, ctx: Context) -> list[LineItem | Gap]:
    """Managed scaling is target tracking on the Auto Scaling group: two alarms."""
    provider = res.properties.get("AutoScalingGroupProvider") or {}
    scaling = provider.get("ManagedScaling") or {}
    if scaling.get("Status", "ENABLED") != "ENABLED":
        raise NoChargeError("its Auto Scaling group's instances are priced")
    return [
        ctx.item(res, category="Monitoring", item="alarms of managed scaling (2)", quantity=2,
                 price="cloudwatch.alarm_metric_month", kind="fixed",
                 basis="managed scaling tracks capacity with a high and a low alarm; the "
                 "instances are priced on the Auto Scaling group"),
    ]  # fmt: skip


def _ssm_parameter(res: Resource, ctx: Context) -> list[LineItem | Gap]:
    if res.properties.get("Tier", "Standard") == "Standard":
        raise NoChargeError("standard parameters have no charge")
    raise UnpriceableError(f"{res.properties.get('Tier')} parameters are not in the price table")


def _private_namespace(res: Resource, ctx: Context) -> list[LineItem | Gap]:
    return rules_edge.hosted_zone(res, ctx)


RULES: dict[str, Rule] = {
    # network
    "AWS::EC2::NatGateway": rules_network.nat_gateway,
    "AWS::EC2::EIP": rules_network.elastic_ip,
    "AWS::EC2::VPCEndpoint": rules_network.vpc_endpoint,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": rules_network.load_balancer,
    # compute
    "AWS::ECS::Service": rules_compute.ecs_service,
    "AWS::ECS::Cluster": rules_compute.ecs_cluster,
    "AWS::ECS::CapacityProvider": _capacity_provider,
    "AWS::AutoScaling::AutoScalingGroup": rules_compute.auto_scaling_group,
    "AWS::AutoScaling::ScalingPolicy": _scaling_policy,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _scaling_policy,
    "AWS::EC2::Instance": rules_compute.ec2_instance,
    "AWS::EC2::Volume": rules_compute.ebs_volume,
    "AWS::Lambda::Function": rules_compute.lambda_function,
    "AWS::ECR::Repository": rules_compute.ecr_repository,
    "AWS::Scheduler::Schedule": rules_compute.schedule,
    "AWS::StepFunctions::StateMachine": rules_compute.state_machine,
    # database
    "AWS::RDS::DBInstance": rules_database.db_instance,
    "AWS::RDS::DBCluster": rules_database.db_cluster,
    "AWS::RDS::DBProxy": rules_database.db_proxy,
    "AWS::Backup::BackupPlan": rules_database.backup_plan,
    # edge
    "AWS::CloudFront::Distribution": rules_edge.distribution,
    "AWS::WAFv2::WebACL": rules_edge.web_acl,
    "AWS::WAFv2::LoggingConfiguration": rules_edge.waf_logging,
    "AWS::Logs::Delivery": rules_edge.log_delivery,
    "AWS::Route53::HostedZone": rules_edge.hosted_zone,
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _private_namespace,
    # monitoring
    "AWS::CloudWatch::Alarm": rules_observability.alarm,
    "AWS::CloudWatch::CompositeAlarm": rules_observability.composite_alarm,
    "AWS::CloudWatch::Dashboard": rules_observability.dashboard,
    "AWS::Logs::LogGroup": rules_observability.log_group,
    "AWS::Logs::MetricFilter": rules_observability.metric_filter,
    "AWS::EC2::FlowLog": rules_observability.flow_log,
    "AWS::Synthetics::Canary": rules_observability.canary,
    # security
    "AWS::KMS::Key": rules_security.kms_key,
    "AWS::KMS::ReplicaKey": rules_security.kms_key,
    "AWS::SecretsManager::Secret": rules_security.secret,
    "AWS::GuardDuty::Detector": rules_security.guardduty,
    "AWS::Config::ConfigurationRecorder": rules_security.config_recorder,
    "AWS::Config::ConfigRule": rules_security.config_rule,
    "AWS::CloudTrail::Trail": rules_security.trail,
    "AWS::SSM::Parameter": _ssm_parameter,
    # delivery, storage, messaging
    "AWS::CodePipeline::Pipeline": rules_delivery.pipeline,
    "AWS::CodeBuild::Project": rules_delivery.build_project,
    "AWS::S3::Bucket": rules_delivery.bucket,
    "AWS::SQS::Queue": rules_delivery.queue,
}

_NO_CHARGE = "no charge"
_IAM = "IAM has no charge"
_VPC = "VPC building blocks have no charge"
_ELB = "priced with its load balancer (hours and LCUs)"
_RDS = "no charge: the database it configures is priced"
_PROXY = "priced with its RDS Proxy (the capacity behind it)"
_POLICY = "CloudFront policies have no charge"

#: Types that cost nothing of their own, with the reason.
FREE: dict[str, str] = {
    "AWS::CDK::Metadata": "CDK's version report, not a billed resource",
    "AWS::IAM::Role": _IAM,
    "AWS::IAM::Policy": _IAM,
    "AWS::IAM::ManagedPolicy": _IAM,
    "AWS::IAM::OIDCProvider": _IAM,
    "AWS::IAM::InstanceProfile": _IAM,
    "AWS::EC2::VPC": _VPC,
    "AWS::EC2::Subnet": _VPC,
    "AWS::EC2::RouteTable": _VPC,
    "AWS::EC2::Route": _VPC,
    "AWS::EC2::SubnetRouteTableAssociation": _VPC,
    "AWS::EC2::InternetGateway": _VPC + " (its traffic is priced where it is processed)",
    "AWS::EC2::VPCGatewayAttachment": _VPC,
    "AWS::EC2::SecurityGroup": _VPC,
    "AWS::EC2::SecurityGroupIngress": _VPC,
    "AWS::EC2::SecurityGroupEgress": _VPC,
    "AWS::EC2::NetworkAcl": _VPC,
    "AWS::EC2::NetworkAclEntry": _VPC,
    "AWS::EC2::SubnetNetworkAclAssociation": _VPC,
    "AWS::EC2::LaunchTemplate": "priced with the Auto Scaling group or instance that uses it",
    "AWS::ApplicationAutoScaling::ScalableTarget": _NO_CHARGE,
    "AWS::AutoScaling::LifecycleHook": _NO_CHARGE,
    "AWS::CertificateManager::Certificate": "public ACM certificates have no charge",
    "AWS::CloudFront::CachePolicy": _POLICY,
    "AWS::CloudFront::OriginAccessControl": _POLICY,
    "AWS::CloudFront::OriginRequestPolicy": _POLICY,
    "AWS::CloudFront::ResponseHeadersPolicy": _POLICY,
    "AWS::CloudFront::Function": "priced per invocation on the distribution that runs it",
    "AWS::CodeStarNotifications::NotificationRule": "no charge (a few SNS publishes: cents)",
    "AWS::Config::DeliveryChannel": "no charge (its bucket is priced)",
    "AWS::ECS::TaskDefinition": "no charge: the services, jobs and migrations running it are "
    "priced",
    "AWS::ECS::ClusterCapacityProviderAssociations": _NO_CHARGE,
    "AWS::ElasticLoadBalancingV2::Listener": _ELB,
    "AWS::ElasticLoadBalancingV2::ListenerRule": _ELB,
    "AWS::ElasticLoadBalancingV2::ListenerCertificate": _ELB,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _ELB,
    "AWS::Events::Rule": "rules on AWS service events have no charge",
    "AWS::Lambda::Permission": _NO_CHARGE,
    "AWS::Lambda::LayerVersion": "no charge (a layer's code is stored at no cost)",
    "AWS::Logs::DeliverySource": "the delivery is priced (AWS::Logs::Delivery)",
    "AWS::Logs::DeliveryDestination": "the delivery is priced (AWS::Logs::Delivery)",
    "AWS::Logs::ResourcePolicy": _NO_CHARGE,
    "AWS::RDS::DBParameterGroup": _RDS,
    "AWS::RDS::DBClusterParameterGroup": _RDS,
    "AWS::RDS::DBSubnetGroup": _RDS,
    "AWS::RDS::OptionGroup": _RDS,
    "AWS::RDS::DBProxyTargetGroup": _PROXY,
    "AWS::RDS::DBProxyEndpoint": _PROXY,
    "AWS::Route53::RecordSet": "alias records: queries to them are free (the hosted zone is not "
    "created by this app)",
    "AWS::S3::BucketPolicy": _NO_CHARGE,
    "AWS::SNS::Topic": "no charge of its own: alarm publishes and e-mails are cents",
    "AWS::SNS::Subscription": _NO_CHARGE,
    "AWS::SNS::TopicPolicy": _NO_CHARGE,
    "AWS::SQS::QueuePolicy": _NO_CHARGE,
    "AWS::SecretsManager::ResourcePolicy": _NO_CHARGE,
    "AWS::SecretsManager::RotationSchedule": "no charge (its function runs in the nested "
    "rotation application)",
    "AWS::SecretsManager::SecretTargetAttachment": _NO_CHARGE,
    "AWS::Serverless::Application": "a nested application: the rotation function, run once a "
    "rotation period (under a cent)",
    "AWS::ServiceDiscovery::HttpNamespace": "HTTP namespaces have no charge (Service Connect "
    "resolves without DiscoverInstances calls)",
    "AWS::ServiceDiscovery::Service": "no charge in an HTTP namespace",
    "AWS::WAFv2::WebACLAssociation": _NO_CHARGE,
    "AWS::Budgets::Budget": "budgets without actions have no charge",
    "AWS::Backup::BackupVault": "no charge of its own: the backups a plan keeps in it are priced",
    "AWS::Backup::BackupSelection": "priced with its backup plan",
    "AWS::Chatbot::SlackChannelConfiguration": "AWS Chatbot has no charge",
    "AWS::Scheduler::ScheduleGroup": _NO_CHARGE,
    "AWS::KMS::Alias": _NO_CHARGE,
    "AWS::CloudFront::VpcOrigin": "no charge of its own: requests and transfer are priced on "
    "the distribution",
    "Custom::DatabaseMigration": "runs the migration task once a release: a few Fargate "
    "task-minutes (cents); its handler functions are priced",
}

#: Every `Custom::` type: a custom resource costs nothing beyond its handler function.
CUSTOM_RESOURCE = "a custom resource: its handler function (AWS::Lambda::Function) is priced"


def free_reason(resource_type: str) -> str | None:
    """Why a type costs nothing of its own, or None if it is not known to be free."""
    if resource_type in FREE:
        return FREE[resource_type]
    if (
        resource_type.startswith("Custom::")
        or resource_type == "AWS::CloudFormation::CustomResource"
    ):
        return CUSTOM_RESOURCE
    return None
