"""Edge stack: thin wiring of `PlatformEdge` from config, in us-east-1.

CloudFront takes certificates and CLOUDFRONT-scope web ACLs only from us-east-1, so this is
the one stack of an environment outside its region. What it needs of the Compute stack (the
origin secret) arrives as a cross-region reference (`Fn::GetStackOutput`), which also makes
`cdk deploy 'Prod/*'` deploy Compute first.
"""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import CfnOutput, Environment
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from config.edge import CacheTtl as CacheTtlConfig
from config.models import EnvironmentConfig
from l3_constructs.edge import (
    CacheTtl,
    EdgeProps,
    ErrorResponse,
    PlatformEdge,
    SecurityHeaders,
)
from l3_constructs.limits import CLOUDFRONT_REGION
from l3_constructs.load_balancer import PlatformLoadBalancer
from l3_constructs.observability import EdgeAlarms, EdgeAlarmsProps
from l3_constructs.static_assets import StaticSource
from l3_constructs.web_acl import GeoMatch, WafProps
from stacks.base import PlatformStack
from stacks.compute_stack import REPO_ROOT, VIEWER_HOST_HEADER


class EdgeStack(PlatformStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        load_balancer: PlatformLoadBalancer,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            env=Environment(account=config.account, region=CLOUDFRONT_REGION),
            **kwargs,
        )
        secret = load_balancer.origin_verify_secret
        if secret is None:
            raise ValueError("the Edge stack needs a load balancer built with a CloudFront origin")
        e = config.edge
        headers = e.security_headers
        self.edge = PlatformEdge(
            self,
            "Edge",
            props=EdgeProps(
                # The configured names, then host-routed services' hosts.
                domain_names=config.viewer_names,
                hosted_zone_id=config.dns.hosted_zone_id,
                zone_name=config.dns.zone_name,
                origin_domain_name=load_balancer.domain_name,
                origin_verify_header_name=e.origin_verify_header,
                price_class=e.price_class,
                static_paths=e.static.paths,
                static_ttl=_ttl(e.static.cache),
                api_path=e.api.path,
                api_forwarded_headers=e.api.forwarded_headers,
                default_cache_headers=e.default.cache_headers,
                default_cache_cookies=e.default.cache_cookies,
                default_ttl=_ttl(e.default.cache),
                security_headers=SecurityHeaders(
                    hsts_max_age_seconds=headers.hsts_max_age_seconds,
                    hsts_include_subdomains=headers.hsts_include_subdomains,
                    hsts_preload=headers.hsts_preload,
                    frame_options=headers.frame_options,
                    referrer_policy=headers.referrer_policy,
                    content_security_policy=headers.content_security_policy,
                ),
                access_log_destination=e.access_logs.destination,
                access_log_retention_days=e.access_logs.retention_days,
                error_responses=tuple(
                    ErrorResponse(
                        http_status=r.http_status,
                        ttl_seconds=r.ttl_seconds,
                        response_http_status=r.response_http_status,
                        response_page_path=r.response_page_path,
                    )
                    for r in e.error_responses
                ),
                static_bucket_removal=e.static.removal_policy,
                static_noncurrent_version_days=e.static.noncurrent_version_days,
                static_superseded_days=e.static.superseded_days,
                # Without a pipeline, `cdk deploy` publishes the services' static directories.
                static_sources=tuple(
                    StaticSource(
                        name=name,
                        directory=str(REPO_ROOT / s.static.directory),
                        prefix=s.static.prefix,
                    )
                    for name, s in config.services.items()
                    if s.static is not None and s.static.directory
                )
                if config.pipeline is None
                else (),
                viewer_host_header=VIEWER_HOST_HEADER if config.has_host_routes else None,
                waf=WafProps(
                    rate_limit=e.waf.rate_limit,
                    common_rules_count_only=e.waf.common_rules_count_only,
                    geo=GeoMatch(mode=e.waf.geo.mode, countries=e.waf.geo.countries)
                    if e.waf.geo
                    else None,
                    log_retention_days=e.waf.log_retention_days,
                ),
            ),
            # The CfnSecret's Ref (its full ARN): the L2's `secret_arn` cannot be read from
            # another region (CDK's CannotUseCrossEnvironment for unnamed resources).
            origin_verify_secret_arn=cast(
                "secretsmanager.CfnSecret", secret.node.default_child
            ).ref,
            # `edge.vpc_origin`: the internal load balancer's ARN, else None.
            vpc_origin_load_balancer_arn=load_balancer.vpc_origin_arn,
        )
        distribution = self.edge.distribution
        # CloudFront and CLOUDFRONT-scope WAF metrics exist only here: their alarms too,
        # relayed to the environment's alarm topic through EventBridge.
        t = config.observability.thresholds
        self.alarms = EdgeAlarms(
            self,
            "Alarms",
            props=EdgeAlarmsProps(
                monitoring_region=config.region,
                cloudfront_5xx_rate_percent=t.cloudfront_5xx_rate_percent,
                waf_blocked_per_5_minutes=t.waf_blocked_per_5_minutes,
            ),
            distribution_id=distribution.distribution_id,
            web_acl_metric_name=self.edge.web_acl_metric_name,
        )
        # What the delivery pipeline needs: where static files go, what to invalidate.
        CfnOutput(self, "SiteUrl", value=self.edge.url, description="The site's URL")
        CfnOutput(self, "DistributionId", value=distribution.distribution_id)
        CfnOutput(self, "DistributionDomainName", value=distribution.distribution_domain_name)
        CfnOutput(self, "StaticBucketName", value=self.edge.static_bucket.bucket_name)


def _ttl(cache: CacheTtlConfig) -> CacheTtl:
    return CacheTtl(
        min_seconds=cache.min_seconds,
        default_seconds=cache.default_seconds,
        max_seconds=cache.max_seconds,
    )
