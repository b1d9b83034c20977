"""Small pieces more than one L3 construct needs, kept in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.retention import retention_days as retention_days_of

Architecture = Literal["X86_64", "ARM64"]

#: Construct id of the function `custom_resources.AwsCustomResource` creates once per stack
#: ("AWS" + the SingletonFunction uuid in aws-cdk-lib).
AWS_CUSTOM_RESOURCE_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"

#: The config's architectures -> ECS's, read on use (importing the constructs calls nothing
#: in jsii: `synthesis/template_checks`).
CPU_ARCHITECTURES: dict[Architecture, Callable[[], ecs.CpuArchitecture]] = {
    "X86_64": lambda: ecs.CpuArchitecture.X86_64,
    "ARM64": lambda: ecs.CpuArchitecture.ARM64,
}


#: What a service (or role) needs of a key to encrypt and decrypt the data it stores:
#: AWS's documented key-policy actions for such a principal.
KEY_USE_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)


def allow_cloudwatch_logs(key: kms.Key, sid: str) -> None:
    """Let CloudWatch Logs in the key's region use `key` for this account's log groups only
    (encryption context = a log-group ARN), as encrypted log groups require. Once per key:
    a second call (another log group on the same key) adds nothing."""
    if key.node.try_find_child(_LOGS_ALLOWED) is not None:
        return
    Construct(key, _LOGS_ALLOWED)  # marks the key
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


_LOGS_ALLOWED = "CloudWatchLogsAllowed"


def encrypted_function_log_group(
    scope: Construct, construct_id: str, *, key: kms.Key, retention_days: int
) -> logs.LogGroup:
    """A log group for a deploy-time function (e.g. an `AwsCustomResource`'s), encrypted with
    `key` and kept `retention_days`; deleted with its stack (it holds only API calls)."""
    allow_cloudwatch_logs(key, "AllowCloudWatchLogs")
    return logs.LogGroup(
        scope,
        construct_id,
        encryption_key=key,
        retention=retention_days_of(retention_days),
        removal_policy=RemovalPolicy.DESTROY,
    )


def fargate_task_definition(
    scope: Construct, construct_id: str, *, cpu: int, memory_mib: int, architecture: Architecture
) -> ecs.FargateTaskDefinition:
    """A Linux Fargate task definition of the given size and CPU architecture."""
    return ecs.FargateTaskDefinition(
        scope,
        construct_id,
        cpu=cpu,
        memory_limit_mib=memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=CPU_ARCHITECTURES[architecture](),
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
    )


def ec2_task_definition(
    scope: Construct,
    construct_id: str,
    *,
    cpu: int,
    memory_mib: int,
    network_mode: Literal["awsvpc", "bridge"],
) -> ecs.TaskDefinition:
    """A Linux task definition for EC2 container instances: the same task-level size as on
    Fargate (what ECS reserves on an instance when it places the task), in `awsvpc` or
    `bridge` networking. ECS takes no runtime platform here: the instances' image decides the
    architecture, and config checks it matches the tasks'."""
    return ecs.TaskDefinition(
        scope,
        construct_id,
        compatibility=ecs.Compatibility.EC2,
        cpu=str(cpu),
        memory_mib=str(memory_mib),
        network_mode=ecs.NetworkMode.BRIDGE
        if network_mode == "bridge"
        else ecs.NetworkMode.AWS_VPC,
    )


def https_egress_security_group(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, description: str
) -> ec2.SecurityGroup:
    """A security group whose one outbound rule is HTTPS anywhere: all a Fargate task needs
    for ECR, S3 image layers, CloudWatch Logs, Secrets Manager (and SSM for ECS Exec), through
    NAT, a public IP or VPC endpoints. DNS to the VPC resolver and the task metadata endpoint
    are not filtered by security groups; other ports (a database's) are added by who owns them.
    """
    group = ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, description=description, allow_all_outbound=False
    )
    group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
    return group


def expiring_log_bucket(
    scope: Construct,
    construct_id: str,
    *,
    retention_days: int,
    removal_policy: RemovalPolicy,
    encryption_key: kms.IKey | None = None,
    access_logs_bucket: s3.IBucket | None = None,
) -> s3.Bucket:
    """A private, SSL-only, versioned bucket for objects that expire after `retention_days`.

    Encrypted with `encryption_key` (SSE-KMS, bucket key on), or with S3-managed keys when
    none is given: what services that deliver only to SSE-S3 buckets (ALB logs) need.
    With `access_logs_bucket`, S3 server access logs go there (prefix: the construct id), and
    expired delete markers are removed too, so a destroyable bucket ends up empty.
    """
    rules = [
        s3.LifecycleRule(
            expiration=Duration.days(retention_days),
            noncurrent_version_expiration=Duration.days(1),
            abort_incomplete_multipart_upload_after=Duration.days(1),
        )
    ]
    if access_logs_bucket is not None:
        # S3 takes this only in a rule without `expiration`.
        rules.append(s3.LifecycleRule(expired_object_delete_marker=True))
    return private_bucket(
        scope,
        construct_id,
        encryption_key=encryption_key,
        lifecycle_rules=rules,
        server_access_logs_bucket=access_logs_bucket,
        server_access_logs_prefix=f"{construct_id}/" if access_logs_bucket else None,
        removal_policy=removal_policy,
    )


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey | None = None,
    lifecycle_rules: list[s3.LifecycleRule],
    removal_policy: RemovalPolicy,
    server_access_logs_bucket: s3.IBucket | None = None,
    server_access_logs_prefix: str | None = None,
    **extra: Any,
) -> s3.Bucket:
    """A bucket with the platform's safe settings: block public access, bucket owner
    enforced, SSL (TLS 1.2+) only, versioned; SSE-KMS with `encryption_key` (bucket key on,
    so KMS requests stay few) or SSE-S3 without one. `extra`: further `s3.Bucket` props."""
    kms_encrypted = encryption_key is not None
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS if kms_encrypted else s3.BucketEncryption.S3_MANAGED,
        encryption_key=encryption_key,
        bucket_key_enabled=True if kms_encrypted else None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=lifecycle_rules,
        server_access_logs_bucket=server_access_logs_bucket,
        server_access_logs_prefix=server_access_logs_prefix,
        removal_policy=removal_policy,
        **extra,
    )


def acknowledge_access_log_bucket(bucket: s3.Bucket, *, receives: str, sse_s3: str) -> None:
    """The findings every bucket of access logs has: no access logging of its own (`receives`
    names whose logs it holds) and SSE-S3 (`sse_s3`: why the delivering service needs it)."""
    reason = (
        f"This bucket only receives {receives}, which are themselves access logs; logging "
        "access to it would need a further log bucket with the same gap."
    )
    acknowledge(bucket, ("AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled"), reason)
    skip_checkov(bucket, "CKV_AWS_18", reason)
    acknowledge(bucket, "NIST.800.53.R5-S3DefaultEncryptionKMS", sse_s3)


def acknowledge_aws_custom_resource_function(scope: Construct, *, calls: str, when: str) -> None:
    """The findings on the one function `custom_resources.AwsCustomResource` creates per
    stack (found from `scope`'s stack), for a stack whose custom resources make `calls`
    (e.g. "the read-only DescribeManagedPrefixLists look-up") `when` (e.g. "once per
    deployment")."""
    function = Stack.of(scope).node.find_child(AWS_CUSTOM_RESOURCE_FUNCTION_ID)
    acknowledge(
        function,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        "CDK's AwsCustomResource function writes only its own logs through the AWS-managed "
        f"basic execution policy; its calls are {calls}.",
    )
    acknowledge(
        function,
        "NIST.800.53.R5-LambdaInsideVPC",
        f"The function makes {calls}, {when}, through the AWS API; it reaches nothing inside "
        "the VPC, which may have no NAT.",
    )
    skip_checkov(
        function,
        "CKV_AWS_117",
        f"CDK's AwsCustomResource function makes {calls} through the AWS API; it needs "
        "nothing inside the VPC.",
    )
    acknowledge(
        function,
        ("NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ"),
        f"CloudFormation invokes the function synchronously {when} and fails that operation "
        "on an error; neither reserved concurrency nor a queue adds anything.",
    )
    skip_checkov(
        function,
        "CKV_AWS_115",
        f"CloudFormation invokes CDK's AwsCustomResource function {when}; reserved "
        "concurrency would only withhold capacity from other functions.",
    )
    skip_checkov(
        function,
        "CKV_AWS_116",
        f"CloudFormation invokes CDK's AwsCustomResource function {when} and fails that "
        "operation on an error; a dead-letter queue would have no reader.",
    )
