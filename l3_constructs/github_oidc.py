"""GitHub Actions' way into an account: the account's OIDC provider, the deploy role
(`cdk deploy` through the CDK bootstrap roles) and the trust every GitHub role shares.

Used by both release providers (`PlatformPipeline` for CodePipeline, `GitHubRelease` for
GitHub Actions) under the same construct ids, so an environment that switches provider keeps
its provider and deploy role (both named: a new logical id would collide with the old one).
Also the key and log group both providers keep (`retained_key_and_log_group`).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from l3_constructs.compliance import acknowledge
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.pipeline_props import GitHubOidcSettings
from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = GITHUB_OIDC_URL.removeprefix("https://")
STS_AUDIENCE = "sts.amazonaws.com"
#: The CDK bootstrap roles `cdk deploy` assumes (the lookup role is not needed: no look-ups).
_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing")


def github_provider(scope: Construct, *, create: bool) -> iam.IOidcProvider:
    """The account's GitHub OIDC provider (`GitHubOidcProvider` in `scope`): created, or the
    existing one (an account has one per URL; its ARN is known from the URL alone)."""
    if create:
        return iam.OidcProviderNative(
            scope, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE]
        )
    return iam.OidcProviderNative.from_oidc_provider_arn(
        scope,
        "GitHubOidcProvider",
        Stack.of(scope).format_arn(
            service="iam", region="", resource="oidc-provider", resource_name=GITHUB_OIDC_HOST
        ),
    )


def github_principal(provider: iam.IOidcProvider, subject: str) -> iam.WebIdentityPrincipal:
    """Web identities of `provider` with exactly this `sub` (`repo:<owner>/<name>:...`) and
    the STS audience: nothing else of GitHub (another repository, branch, environment or
    pull request) matches."""
    return iam.WebIdentityPrincipal(
        provider.oidc_provider_arn,
        conditions={
            "StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": subject,
            }
        },
    )


def add_deploy_role(
    scope: Construct, provider: iam.IOidcProvider, github: GitHubOidcSettings
) -> iam.Role:
    """`GitHubRole` in `scope`: what deploy.yml assumes to run `cdk deploy`; it may only
    assume the CDK bootstrap roles of `github.regions` (default: this region and us-east-1)."""
    stack = Stack.of(scope)
    role = iam.Role(
        scope,
        "GitHubRole",
        role_name=github.role_name,
        description=f"GitHub Actions of {github.repository}@{github.branch}: cdk deploy "
        "through the CDK bootstrap roles",
        assumed_by=github_principal(
            provider, f"repo:{github.repository}:ref:refs/heads/{github.branch}"
        ),
        max_session_duration=Duration.hours(1),
    )
    regions = github.regions or tuple(dict.fromkeys((stack.region, CLOUDFRONT_REGION)))
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="AssumeCdkBootstrapRoles",
            actions=["sts:AssumeRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name=f"cdk-{github.cdk_qualifier}-{kind}-role-{stack.account}"
                    f"-{region}",
                )
                for region in regions
                for kind in _BOOTSTRAP_ROLES
            ],
        )
    )
    acknowledge(
        role,
        "NIST.800.53.R5-IAMNoInlinePolicy",
        "The deploy role's only permission, sts:AssumeRole on the named CDK bootstrap "
        "roles, lives in its inline default policy; nothing else shares it.",
    )
    return role


def retained_key_and_log_group(
    scope: Construct, *, log_retention_days: int
) -> tuple[kms.Key, logs.LogGroup]:
    """`Key` (rotated) and `LogGroup` (encrypted with it) in `scope`, both retained: the log
    group holds release logs (CodeBuild's), readable only while the key exists. Both
    providers keep them under these ids, so a switch of provider neither orphans them nor
    deletes what they hold."""
    key = kms.Key(
        scope,
        "Key",
        description=f"Encrypts the artifacts, build logs and topics of {scope.node.path}",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    allow_cloudwatch_logs(key, "AllowCloudWatchLogsForPipelineLogGroup")
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        encryption_key=key,
        retention=retention_days(log_retention_days),
        removal_policy=RemovalPolicy.RETAIN,
    )
    return key, log_group
