"""The static-asset bucket of `PlatformEdge` and the publication of build output into it.

Content-hashed files (Next.js `/_next/static/*`) never change under one name, so a release
only adds files; it never deletes any, and tasks (and open browser tabs) of the previous
release keep finding theirs. The pipeline's publish step (`release_tools.publish_static`) marks
files that no release uses any more with the tag `static-generation=superseded` (copying
each onto itself, so its age starts then); a lifecycle rule expires them after
`superseded_days`. Without a pipeline, `cdk deploy` uploads a configured directory with a
`BucketDeployment` that never prunes.

The functions take the `PlatformEdge` as scope, so the bucket's construct path (and logical
id) is the one it always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from l3_constructs.compliance import acknowledge, acknowledge_wildcards, skip_checkov
from l3_constructs.limits import ONE_YEAR_SECONDS
from l3_constructs.shared import (
    encrypted_function_log_group,
    expiring_log_bucket,
    private_bucket,
)

#: Set by `release_tools.publish_static` on files no release uses any more (kept in step with it:
#: tests/pipeline/test_publish_static.py checks both name the same tag).
SUPERSEDED_TAG_KEY = "static-generation"
SUPERSEDED_TAG_VALUE = "superseded"
#: What every published file is served with: content-hashed, so cached for good.
IMMUTABLE_CACHE_CONTROL = f"public, max-age={ONE_YEAR_SECONDS}, immutable"


@dataclass(frozen=True)
class StaticSource:
    """A directory `cdk deploy` uploads under `prefix` (a service's build output)."""

    #: Names the upload's construct (e.g. the service's name).
    name: str
    directory: str
    prefix: str


def static_bucket(
    scope: Construct,
    *,
    log_retention_days: int,
    removal: Literal["retain", "destroy"],
    noncurrent_version_days: int,
    superseded_days: int,
) -> tuple[s3.Bucket, s3.Bucket]:
    """The private static bucket (SSE-S3, versioned, access-logged) and its log bucket."""
    log_bucket = expiring_log_bucket(
        scope,
        "StaticLogBucket",
        retention_days=log_retention_days,
        removal_policy=RemovalPolicy.RETAIN,
    )
    destroy = removal == "destroy"
    bucket = private_bucket(
        scope,
        "StaticBucket",
        lifecycle_rules=[
            s3.LifecycleRule(
                noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            ),
            # Files of past releases, marked by the publish step when a release stops
            # using them: kept a while for the previous release's tasks and open tabs.
            s3.LifecycleRule(
                id="ExpireSupersededStaticFiles",
                tag_filters={SUPERSEDED_TAG_KEY: SUPERSEDED_TAG_VALUE},
                expiration=Duration.days(superseded_days),
            ),
            s3.LifecycleRule(id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True),
        ],
        server_access_logs_bucket=log_bucket,
        removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
        auto_delete_objects=destroy,
    )
    return bucket, log_bucket


def publish_directories(
    scope: Construct,
    bucket: s3.IBucket,
    sources: Sequence[StaticSource],
    *,
    log_key: kms.Key,
    log_retention_days: int,
) -> list[s3deploy.BucketDeployment]:
    """Upload each source directory under its prefix at deploy time, never pruning, with the
    immutable cache header: what the pipeline's publish step does, for `cdk deploy`."""
    if not sources:
        return []
    log_group = encrypted_function_log_group(
        scope, "PublishLogs", key=log_key, retention_days=log_retention_days
    )
    deployments = [
        s3deploy.BucketDeployment(
            scope,
            f"Publish-{source.name}",
            sources=[s3deploy.Source.asset(source.directory)],
            destination_bucket=bucket,
            destination_key_prefix=f"{source.prefix}/",
            prune=False,
            retain_on_delete=True,
            cache_control=[s3deploy.CacheControl.from_string(IMMUTABLE_CACHE_CONTROL)],
            log_group=log_group,
            memory_limit=256,
        )
        for source in sources
    ]
    _acknowledge_deployment_function(scope)
    return deployments


def _acknowledge_deployment_function(scope: Construct) -> None:
    """Findings on the one function `BucketDeployment` creates per stack (CDK's)."""
    stack = Stack.of(scope)
    function = next(
        child
        for child in stack.node.children
        if child.node.id.startswith("Custom::CDKBucketDeployment")
    )
    acknowledge(
        function,
        (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
        ),
        "CDK's BucketDeployment function writes only its own logs through the AWS-managed "
        "basic execution policy; its other grants are the asset bucket and the static bucket.",
    )
    reason = (
        "CDK's BucketDeployment grants: read the CDK asset objects and write the static "
        "bucket's objects (it copies files under the published prefixes and never prunes); "
        "the role serves this one deploy-time function."
    )
    acknowledge(function, "NIST.800.53.R5-IAMNoInlinePolicy", reason)
    role = function.node.find_child("ServiceRole")
    acknowledge_wildcards(
        role,
        lambda finding: (
            reason
            if finding.startswith(("Action::s3:", "Resource::"))
            and (not finding.startswith("Resource::") or finding.endswith("/*"))
            else None
        ),
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "CDK pins the BucketDeployment function's runtime to what its bundled AWS CLI layer "
        "supports; it runs only during a deployment.",
    )
    reason_vpc = (
        "CDK's BucketDeployment function copies CDK assets into the static bucket through "
        "the S3 API during a deployment; it reaches nothing inside a VPC."
    )
    acknowledge(function, "NIST.800.53.R5-LambdaInsideVPC", reason_vpc)
    skip_checkov(function, "CKV_AWS_117", reason_vpc)
    reason_once = (
        "CloudFormation invokes CDK's BucketDeployment function synchronously during a "
        "deployment and fails it on an error: neither reserved concurrency nor a queue adds "
        "anything."
    )
    acknowledge(
        function, ("NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ"), reason_once
    )
    skip_checkov(function, "CKV_AWS_115", reason_once)
    skip_checkov(function, "CKV_AWS_116", reason_once)
    skip_checkov(
        function,
        "CKV_AWS_173",
        "CDK's BucketDeployment function is given no environment variables of ours, and none "
        "holds a secret; Lambda encrypts them at rest with its own key.",
    )
