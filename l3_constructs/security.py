"""SecurityBaseline: the account-level guards of one account and region, each switchable: a
GuardDuty detector, an AWS Config recorder with a small set of managed rules, and a
multi-region CloudTrail trail.

These are account-level services (one detector and one configuration recorder per account
and region, one multi-region trail per account is enough), so an environment has at most one
of these, in its own region. Knows nothing of environments: every choice arrives in
`SecurityBaselineProps`. Nothing here creates EC2 instances or volumes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from aws_cdk import Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_config as config
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.limits import LOG_RETENTION_DAYS
from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs, expiring_log_bucket


@functools.cache
def config_rule_scopes() -> dict[str, tuple[str, ...]]:
    """Managed rules this construct can create (`ManagedRuleIdentifiers` values) -> the
    resource types a change-triggered rule evaluates (its scope; they must be recorded).
    Periodic rules evaluate through the AWS APIs and need nothing recorded: (). Read from
    the CDK on first use, not at import (importing the constructs calls nothing in jsii:
    `synthesis/template_checks`)."""
    rules = config.ManagedRuleIdentifiers
    return {
        rules.S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED: ("AWS::S3::Bucket",),
        rules.S3_BUCKET_SSL_REQUESTS_ONLY: ("AWS::S3::Bucket",),
        rules.RDS_STORAGE_ENCRYPTED: ("AWS::RDS::DBInstance",),
        rules.RDS_INSTANCE_PUBLIC_ACCESS_CHECK: ("AWS::RDS::DBInstance",),
        rules.RDS_INSTANCE_DELETION_PROTECTION_ENABLED: ("AWS::RDS::DBInstance",),
        rules.IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS: ("AWS::IAM::Policy",),
        rules.EC2_SECURITY_GROUPS_INCOMING_SSH_DISABLED: ("AWS::EC2::SecurityGroup",),
        rules.ECS_CONTAINERS_NONPRIVILEGED: ("AWS::ECS::TaskDefinition",),
        rules.CLOUD_TRAIL_ENABLED: (),
        rules.CLOUDWATCH_LOG_GROUP_ENCRYPTED: (),
        rules.VPC_FLOW_LOGS_ENABLED: (),
        rules.GUARDDUTY_ENABLED_CENTRALIZED: (),
        rules.ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK: (),
        rules.ECR_PRIVATE_IMAGE_SCANNING_ENABLED: (),
    }


def real_data_config_rules() -> tuple[str, ...]:
    """Added for environments holding real data (a throwaway database need not be protected)."""
    return (config.ManagedRuleIdentifiers.RDS_INSTANCE_DELETION_PROTECTION_ENABLED,)


def baseline_config_rules() -> tuple[str, ...]:
    """The rules every environment gets: what the platform itself promises (private,
    SSL-only buckets; encrypted, private database; no admin policies; no SSH; unprivileged
    containers; trail, flow logs, encrypted log groups, GuardDuty, HTTPS-only load balancer,
    ECR scans)."""
    real_data = real_data_config_rules()
    return tuple(rule for rule in config_rule_scopes() if rule not in real_data)


#: The resource types the platform creates in its region that AWS Config can record, plus
#: rule compliance history. Recording only these (not all supported types) keeps the
#: configuration-item bill to what the rules and an audit of this platform need; high-churn
#: types (network interfaces of Fargate tasks, automated snapshots, alarms) are left out.
PLATFORM_RESOURCE_TYPES: tuple[str, ...] = (
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::RouteTable",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::EIP",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::FlowLog",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ECR::Repository",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ACM::Certificate",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::Lambda::Function",
    # Global (IAM) types, recorded by this one regional recorder.
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::CodePipeline::Pipeline",
    "AWS::CodeBuild::Project",
    "AWS::CloudTrail::Trail",
    "AWS::GuardDuty::Detector",
    "AWS::Config::ResourceCompliance",
)

#: Days objects are kept in the audit buckets (as the config model allows).
TRAIL_RETENTION_RANGE = range(1, 3651)
_RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
_CONFIG_SERVICE = "config.amazonaws.com"
_CLOUDTRAIL_SERVICE = "cloudtrail.amazonaws.com"


@dataclass(frozen=True)
class SecurityBaselineProps:
    guardduty: bool = True
    config_recorder: bool = True
    cloudtrail: bool = True
    #: GuardDuty Runtime Monitoring with the agent managed by GuardDuty on ECS Fargate (billed
    #: per vCPU; task execution roles must be able to pull GuardDuty's agent image).
    guardduty_runtime_monitoring: bool = True
    #: Days trail files, Config snapshots/history and their S3 access logs are kept.
    trail_retention_days: int = 365
    #: Retention of the trail's CloudWatch log group (a CloudWatch Logs period).
    log_retention_days: int = 365
    #: Managed rules (`ManagedRuleIdentifiers` values, keys of `config_rule_scopes()`).
    config_rules: tuple[str, ...] = field(default_factory=baseline_config_rules)
    #: What the recorder records; must cover the scopes of `config_rules`.
    recorded_resource_types: tuple[str, ...] = PLATFORM_RESOURCE_TYPES
    #: Create AWSServiceRoleForConfig here. Off: it must exist already (one per account).
    create_config_service_linked_role: bool = False
    #: Keep the key, buckets and log group when the stack is deleted (audit evidence).
    retain: bool = True


class SecurityBaseline(Construct):
    """GuardDuty, AWS Config and CloudTrail for the account, in the stack's region.

    Exposes `detector` (CfnDetector), `recorder` (CfnConfigurationRecorder), `delivery_channel`,
    `rules` (the ManagedRules), `trail`, and what they write to: `key` (one customer-managed
    key for the trail, its log group and the Config bucket), `config_bucket`, `trail_bucket`,
    `trail_log_group` and `access_log_bucket` (S3 access logs of both buckets). Each is None
    (`rules` empty) when its part is off; GuardDuty alone needs no key and no bucket.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, props: SecurityBaselineProps
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        stack = Stack.of(self)
        removal = RemovalPolicy.RETAIN if props.retain else RemovalPolicy.DESTROY

        self.detector = self._add_detector(props) if props.guardduty else None

        self.key: kms.Key | None = None
        self.access_log_bucket: s3.Bucket | None = None
        self.config_bucket: s3.Bucket | None = None
        self.recorder: config.CfnConfigurationRecorder | None = None
        self.delivery_channel: config.CfnDeliveryChannel | None = None
        self.rules: list[config.ManagedRule] = []
        self.trail_bucket: s3.Bucket | None = None
        self.trail_log_group: logs.LogGroup | None = None
        self.trail: cloudtrail.Trail | None = None
        if props.config_recorder or props.cloudtrail:
            key = self.key = kms.Key(
                self,
                "Key",
                description=f"Encrypts the CloudTrail and AWS Config files of {stack.stack_name}",
                enable_key_rotation=True,
                removal_policy=removal,
            )
            # S3 server access logging delivers only to SSE-S3 buckets.
            access_logs = self.access_log_bucket = expiring_log_bucket(
                self,
                "AccessLogBucket",
                retention_days=props.trail_retention_days,
                removal_policy=removal,
            )
            self._acknowledge_access_log_bucket(access_logs)
            if props.config_recorder:
                self._add_config(props, key, access_logs, removal)
            if props.cloudtrail:
                self._add_trail(props, key, access_logs, removal)

    # ------------------------------------------------------------------ GuardDuty

    def _add_detector(self, props: SecurityBaselineProps) -> guardduty.CfnDetector:
        """Every protection plan set explicitly, so the detector is what this code says
        whatever GuardDuty's defaults for new detectors become. `Features` replaces the
        legacy `DataSources` (the two may not be combined)."""

        def feature(
            name: str, enabled: bool, **additional: bool
        ) -> guardduty.CfnDetector.CFNFeatureConfigurationProperty:
            return guardduty.CfnDetector.CFNFeatureConfigurationProperty(
                name=name,
                status=_status(enabled),
                additional_configuration=[
                    guardduty.CfnDetector.CFNFeatureAdditionalConfigurationProperty(
                        name=extra, status=_status(on)
                    )
                    for extra, on in additional.items()
                ]
                or None,
            )

        runtime = props.guardduty_runtime_monitoring
        return guardduty.CfnDetector(
            self,
            "Detector",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            features=[
                feature("S3_DATA_EVENTS", True),
                # The database and its password-rotation function are the platform's crown
                # jewels: anomalous logins and function network activity are watched.
                feature("RDS_LOGIN_EVENTS", True),
                feature("LAMBDA_NETWORK_LOGS", True),
                # No EKS, no EC2 instances or EBS volumes here.
                feature("EKS_AUDIT_LOGS", False),
                feature("EBS_MALWARE_PROTECTION", False),
                feature(
                    "RUNTIME_MONITORING",
                    runtime,
                    ECS_FARGATE_AGENT_MANAGEMENT=runtime,
                    EKS_ADDON_MANAGEMENT=False,
                    EC2_AGENT_MANAGEMENT=False,
                ),
            ],
        )

    # ------------------------------------------------------------------ AWS Config

    def _add_config(
        self,
        props: SecurityBaselineProps,
        key: kms.Key,
        access_logs: s3.Bucket,
        removal: RemovalPolicy,
    ) -> None:
        stack = Stack.of(self)
        source_account = {"aws:SourceAccount": stack.account}
        bucket = self.config_bucket = expiring_log_bucket(
            self,
            "ConfigBucket",
            retention_days=props.trail_retention_days,
            removal_policy=removal,
            encryption_key=key,
            access_logs_bucket=access_logs,
        )
        # With the service-linked role, Config delivers as its service principal: the bucket
        # and the key admit that principal for this account only (confused-deputy guard).
        config_principal = iam.ServicePrincipal(_CONFIG_SERVICE)
        _allow_delivery(
            bucket,
            config_principal,
            sids=("AllowConfigBucketChecks", "AllowConfigDelivery"),
            check_actions=("s3:GetBucketAcl", "s3:ListBucket"),
            prefix=f"AWSLogs/{stack.account}/Config/*",
            conditions=source_account,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowConfigToEncryptDeliveries",
                principals=[config_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": source_account},
            )
        )

        # The service-linked role (AWS-managed permissions, trusted by Config only) rather
        # than a role of our own: nothing to maintain, and no managed policy to acknowledge.
        role_arn = stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name=f"aws-service-role/{_CONFIG_SERVICE}/AWSServiceRoleForConfig",
        )
        recorder = self.recorder = config.CfnConfigurationRecorder(
            self,
            "ConfigRecorder",
            role_arn=role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=False,
                include_global_resource_types=False,
                resource_types=list(props.recorded_resource_types),
                recording_strategy=config.CfnConfigurationRecorder.RecordingStrategyProperty(
                    use_only="INCLUSION_BY_RESOURCE_TYPES"
                ),
            ),
        )
        if props.create_config_service_linked_role:
            linked_role = iam.CfnServiceLinkedRole(
                self,
                "ConfigServiceLinkedRole",
                aws_service_name=_CONFIG_SERVICE,
                description="Lets AWS Config record this account's resources",
            )
            # Other recorders (other regions, other tools) may use it after this stack.
            linked_role.apply_removal_policy(RemovalPolicy.RETAIN)
            recorder.node.add_dependency(linked_role)

        channel = self.delivery_channel = config.CfnDeliveryChannel(
            self,
            "ConfigDeliveryChannel",
            s3_bucket_name=bucket.bucket_name,
            s3_kms_key_arn=key.key_arn,
            config_snapshot_delivery_properties=config.CfnDeliveryChannel.ConfigSnapshotDeliveryPropertiesProperty(
                delivery_frequency="TwentyFour_Hours"
            ),
        )
        # Config refuses a channel without a recorder, or to a bucket it cannot write yet
        # (the bucket construct includes its policy).
        channel.node.add_dependency(recorder, bucket)

        rules = Construct(self, "ConfigRules")
        for identifier in props.config_rules:
            scope = config_rule_scopes()[identifier]
            rule = config.ManagedRule(
                rules,
                identifier,
                identifier=identifier,
                rule_scope=config.RuleScope.from_resources(
                    [config.ResourceType.of(t) for t in scope]
                )
                if scope
                else None,
            )
            # A rule needs a recorder (and evaluates what it has recorded and delivered).
            rule.node.add_dependency(recorder, channel)
            self.rules.append(rule)

        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Config snapshots describe this region's resources and Config itself keeps their "
            "history; the bucket is versioned and retained, a cross-region copy adds cost.",
        )

    # ------------------------------------------------------------------ CloudTrail

    def _add_trail(
        self,
        props: SecurityBaselineProps,
        key: kms.Key,
        access_logs: s3.Bucket,
        removal: RemovalPolicy,
    ) -> None:
        stack = Stack.of(self)
        # Named, so the key and bucket policies can name the one trail they serve
        # (aws:SourceArn) without a reference cycle through the trail's Arn attribute.
        trail_name = Names.unique_resource_name(self, max_length=100, separator="-")
        trail_arn = stack.format_arn(
            service="cloudtrail", resource="trail", resource_name=trail_name
        )
        from_this_trail = {"aws:SourceArn": trail_arn}
        principal = iam.ServicePrincipal(_CLOUDTRAIL_SERVICE)

        bucket = self.trail_bucket = expiring_log_bucket(
            self,
            "TrailBucket",
            retention_days=props.trail_retention_days,
            removal_policy=removal,
            encryption_key=key,
            access_logs_bucket=access_logs,
        )
        _allow_delivery(
            bucket,
            principal,
            sids=("AllowCloudTrailAclCheck", "AllowCloudTrailDelivery"),
            check_actions=("s3:GetBucketAcl",),
            prefix=f"AWSLogs/{stack.account}/*",
            conditions=from_this_trail,
        )
        # The L2 trail grants nothing on the key: log and digest files are encrypted under
        # it by this trail only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptTrailFiles",
                principals=[principal],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": from_this_trail,
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": stack.format_arn(
                            service="cloudtrail", region="*", resource="trail", resource_name="*"
                        )
                    },
                },
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDescribeKey",
                principals=[principal],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": from_this_trail},
            )
        )
        allow_cloudwatch_logs(key, "AllowCloudWatchLogsForTrailLogGroup")
        self.trail_log_group = logs.LogGroup(
            self,
            "TrailLogGroup",
            encryption_key=key,
            retention=retention_days(props.log_retention_days),
            removal_policy=removal,
        )
        # The L2 trail adds unscoped statements to the policy of the bucket it is given;
        # given a reference to the bucket instead, it adds none, and the scoped statements
        # above are the whole grant.
        delivery_target = s3.Bucket.from_bucket_attributes(
            self,
            "TrailBucketReference",
            bucket_arn=bucket.bucket_arn,
            bucket_name=bucket.bucket_name,
        )
        trail = self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=delivery_target,
            encryption_key=key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            # Every management event, read and write; no data events (S3 object and Lambda
            # invoke level, billed per event) and no Insights: GuardDuty's S3 protection
            # already watches data-plane access to the buckets.
            management_events=cloudtrail.ReadWriteType.ALL,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.trail_log_group,
        )
        # CloudTrail checks the bucket policy when the trail is created (the bucket
        # construct includes its policy).
        trail.node.find_child("Resource").node.add_dependency(bucket)

        acknowledge(
            trail.node.find_child("LogsRole"),
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The inline policy is the CDK grant that lets this single-purpose CloudTrail role "
            "write to the trail's one log group; it has no other holder to share it with.",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "One multi-region trail already gathers every region's events here; the files are "
            "KMS-encrypted, digest-validated, versioned and retained, a replica adds cost.",
        )

    # ------------------------------------------------------------------ findings

    @staticmethod
    def _acknowledge_access_log_bucket(bucket: s3.Bucket) -> None:
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "A log bucket on SSE-S3: S3 server access logging delivers only to SSE-S3 buckets; "
            "the logs hold request metadata, no content.",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs of this region's audit buckets, expiring with them; a cross-region "
            "replica adds cost without aiding recovery.",
        )
        skip_checkov(
            bucket,
            "CKV_AWS_18",
            "This bucket only receives the S3 server access logs of the audit buckets; logging "
            "access to it would need a further log bucket with the same gap.",
        )


def _status(enabled: bool) -> str:
    return "ENABLED" if enabled else "DISABLED"


def _validate(props: SecurityBaselineProps) -> None:
    if not (props.guardduty or props.config_recorder or props.cloudtrail):
        raise ValueError(
            "SecurityBaseline needs at least one of guardduty, config_recorder, cloudtrail"
        )
    if props.trail_retention_days not in TRAIL_RETENTION_RANGE:
        raise ValueError(
            f"trail_retention_days must be {TRAIL_RETENTION_RANGE.start}-"
            f"{TRAIL_RETENTION_RANGE.stop - 1}, got {props.trail_retention_days}"
        )
    if props.log_retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"log_retention_days {props.log_retention_days} is not a CloudWatch Logs retention "
            f"period {LOG_RETENTION_DAYS}"
        )
    if not props.config_recorder:
        return
    scopes = config_rule_scopes()
    unknown = [r for r in props.config_rules if r not in scopes]
    if unknown:
        raise ValueError(f"config_rules {unknown} are not among {sorted(scopes)}")
    if len(set(props.config_rules)) != len(props.config_rules):
        raise ValueError(f"config_rules lists a rule twice: {props.config_rules}")
    types = props.recorded_resource_types
    if not types or len(set(types)) != len(types):
        raise ValueError("recorded_resource_types must name at least one type, each once")
    malformed = [t for t in types if not _RESOURCE_TYPE.fullmatch(t)]
    if malformed:
        raise ValueError(f"recorded_resource_types {malformed} are not AWS::Service::Type names")
    for rule in props.config_rules:
        missing = [t for t in scopes[rule] if t not in types]
        if missing:
            raise ValueError(f"config rule {rule} evaluates {missing}, which are not recorded")


def _allow_delivery(
    bucket: s3.Bucket,
    principal: iam.ServicePrincipal,
    *,
    sids: tuple[str, str],
    check_actions: tuple[str, ...],
    prefix: str,
    conditions: dict[str, str],
) -> None:
    """The bucket policy an AWS service's log delivery needs: read the bucket's ACL (and
    what else `check_actions` names), then put objects under `prefix`, owned by the bucket
    owner; both only under `conditions` (the confused-deputy guard)."""
    check_sid, delivery_sid = sids
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid=check_sid,
            principals=[principal],
            actions=list(check_actions),
            resources=[bucket.bucket_arn],
            conditions={"StringEquals": conditions},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid=delivery_sid,
            principals=[principal],
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(prefix)],
            conditions={
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **conditions}
            },
        )
    )
