"""PlatformStorage: one S3 bucket for an application's files (uploads, documents).

Private (block public access, bucket owner enforced), SSL-only with TLS 1.2+, encrypted with
its own customer-managed key (bucket key on, so KMS requests stay few), versioned with
noncurrent versions expiring, access-logged to a log bucket, CORS rules for browser uploads
with presigned URLs. Services reach it through their task role only (`grant`), never with
static keys.

Knows nothing of environments: every choice arrives in `StorageProps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from l3_constructs.compliance import acknowledge, acknowledge_wildcards, finding_id
from l3_constructs.shared import (
    acknowledge_access_log_bucket,
    expiring_log_bucket,
    private_bucket,
)


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[Literal["GET", "PUT", "POST", "HEAD", "DELETE"], ...] = ("GET", "PUT")
    allowed_headers: tuple[str, ...] = ("*",)
    exposed_headers: tuple[str, ...] = ("ETag",)
    max_age_seconds: int = 3000


@dataclass(frozen=True)
class StorageProps:
    cors: Sequence[CorsRule] = field(default_factory=tuple)
    #: retain: the bucket (and its key) outlive a stack delete; destroy: emptied and deleted.
    removal_policy: Literal["retain", "destroy"] = "retain"
    noncurrent_version_days: int = 30
    access_log_retention_days: int = 90


class PlatformStorage(Construct):
    """Exposes `bucket`, `key` and `access_log_bucket`; `grant(grantee, access)` gives a
    task role read or read/write on the bucket's objects (and the key's use for them)."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StorageProps) -> None:
        super().__init__(scope, construct_id)
        retain = props.removal_policy == "retain"
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the application files of {Stack.of(self).stack_name}",
            enable_key_rotation=True,
            # The files stay readable only while the key exists.
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.access_log_bucket = expiring_log_bucket(
            self,
            "AccessLogBucket",
            retention_days=props.access_log_retention_days,
            removal_policy=removal,
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            encryption_key=self.key,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(props.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(expired_object_delete_marker=True),
            ],
            cors=[
                s3.CorsRule(
                    allowed_origins=list(rule.allowed_origins),
                    allowed_methods=[s3.HttpMethods(m) for m in rule.allowed_methods],
                    allowed_headers=list(rule.allowed_headers),
                    exposed_headers=list(rule.exposed_headers),
                    max_age=rule.max_age_seconds,
                )
                for rule in props.cors
            ]
            or None,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="Bucket/",
            removal_policy=removal,
        )
        self._acknowledge_findings()

    def grant(self, role: iam.IRole, access: Literal["read", "read_write"]) -> None:
        """CDK's read or read/write grant on the bucket's objects (every key: the app names
        them) and the bucket's key, written to `role`'s own policy."""
        if access == "read":
            self.bucket.grant_read(role)
        else:
            self.bucket.grant_read_write(role)
        stack = Stack.of(role)
        reason = (
            f"CDK's {access} grant on the application's storage bucket: the objects of this "
            "one bucket (every key, as the app names them) and its own key for them; nothing "
            "else."
        )
        acknowledge_wildcards(
            role,
            lambda finding: (
                reason
                if finding.startswith(("Action::s3:", "Action::kms:"))
                or finding == finding_id(stack, f"Resource::{self.bucket.bucket_arn}/*")
                else None
            ),
        )
        acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", reason)

    def _acknowledge_findings(self) -> None:
        bucket = self.access_log_bucket
        acknowledge_access_log_bucket(
            bucket,
            receives="the storage bucket's server access logs",
            sse_s3="S3 server access logs are delivered only to buckets encrypted with SSE-S3; "
            "a KMS default key would make every log delivery fail.",
        )
        for target in (bucket, self.bucket):
            acknowledge(
                target,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Cross-region replication doubles storage and transfer cost; versioning and the "
                "retained bucket protect the files, and a copy elsewhere is the database "
                "backups' job (README 'App file storage').",
            )
