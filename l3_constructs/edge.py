"""PlatformEdge: CloudFront in front of an HTTPS origin (the service's load balancer) and a
private S3 bucket of static assets, guarded by a CloudFront-scope WAF web ACL, with its own
certificate and Route 53 alias records.

Must live in a stack in us-east-1 (`CLOUDFRONT_REGION`): CloudFront takes certificates and
CloudFront-scope web ACLs only from there. Knows nothing of environments: every choice
arrives in `EdgeProps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_cdk import ArnFormat, Aws, Duration, Fn, Names, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.limits import (
    CLOUDFRONT_REGION,
    ONE_YEAR_SECONDS,
    ReferrerPolicy,
    cloudfront_path_matches,
)
from l3_constructs.retention import retention_days
from l3_constructs.shared import allow_cloudwatch_logs, expiring_log_bucket
from l3_constructs.static_assets import StaticSource, publish_directories, static_bucket
from l3_constructs.web_acl import WafProps, add_web_acl, log_group_arn


@dataclass(frozen=True)
class CacheTtl:
    """TTLs of a cache policy (seconds); min <= default <= max."""

    min_seconds: int
    default_seconds: int
    max_seconds: int


@dataclass(frozen=True)
class ErrorResponse:
    """A custom error response: how long CloudFront caches an origin's `http_status`, and
    optionally the page (a static path, so it never comes from the failing origin) and status
    it answers with instead."""

    http_status: int
    ttl_seconds: int
    response_http_status: int | None = None
    response_page_path: str | None = None


@dataclass(frozen=True)
class SecurityHeaders:
    """The response headers policy's security headers (applied to every behaviour)."""

    hsts_max_age_seconds: int = 63_072_000
    hsts_include_subdomains: bool = True
    hsts_preload: bool = False
    frame_options: Literal["DENY", "SAMEORIGIN"] = "DENY"
    referrer_policy: ReferrerPolicy = "strict-origin-when-cross-origin"
    #: None: no Content-Security-Policy header.
    content_security_policy: str | None = None


@dataclass(frozen=True)
class EdgeProps:
    #: Viewer-facing names (aliases), e.g. ("app.example.com", "api.example.com"), all in the
    #: hosted zone below; the certificate covers all of them.
    domain_names: tuple[str, ...]
    hosted_zone_id: str
    zone_name: str
    #: The origin's HTTPS name: the name on the load balancer's certificate.
    origin_domain_name: str
    #: Header CloudFront adds to every origin request, holding the origin secret.
    origin_verify_header_name: str = "X-Origin-Verify"
    price_class: Literal["100", "200", "all"] = "200"
    #: Path patterns served from the static bucket (first one e.g. "/_next/static/*").
    static_paths: tuple[str, ...] = ("/_next/static/*",)
    static_ttl: CacheTtl = field(
        default_factory=lambda: CacheTtl(ONE_YEAR_SECONDS, ONE_YEAR_SECONDS, ONE_YEAR_SECONDS)
    )
    #: Path pattern of the API: never cached, every method, viewer headers forwarded.
    api_path: str = "/api/*"
    #: Viewer headers the API receives; None: all of them except Host.
    api_forwarded_headers: tuple[str, ...] | None = None
    #: Cache key of the default behaviour (`/*` -> origin): these headers and cookies, and
    #: every query string.
    default_cache_headers: tuple[str, ...] = ()
    default_cache_cookies: tuple[str, ...] = ()
    default_ttl: CacheTtl = field(default_factory=lambda: CacheTtl(0, 0, ONE_YEAR_SECONDS))
    security_headers: SecurityHeaders = field(default_factory=SecurityHeaders)
    #: CloudFront standard logging (v2): to an S3 bucket or a CloudWatch log group.
    access_log_destination: Literal["s3", "cloudwatch"] = "s3"
    access_log_retention_days: int = 90
    error_responses: tuple[ErrorResponse, ...] = ()
    #: retain: the static bucket outlives the stack; destroy: it is emptied and deleted.
    static_bucket_removal: Literal["retain", "destroy"] = "retain"
    static_noncurrent_version_days: int = 30
    #: Days a static file stays after a release stopped using it (tag set by the publish step).
    static_superseded_days: int = 30
    #: Directories `cdk deploy` uploads into the static bucket (no pipeline publishes them).
    static_sources: tuple[StaticSource, ...] = ()
    #: Set to the viewer's Host by a viewer-request function on the origin's behaviours (and
    #: part of the pages' cache key), for host-routed services; None: no function.
    viewer_host_header: str | None = None
    waf: WafProps = field(default_factory=WafProps)


_PRICE_CLASSES = {
    "100": cloudfront.PriceClass.PRICE_CLASS_100,
    "200": cloudfront.PriceClass.PRICE_CLASS_200,
    "all": cloudfront.PriceClass.PRICE_CLASS_ALL,
}
#: The service principal of CloudWatch Logs vended-log delivery (standard logging v2).
_LOG_DELIVERY = "delivery.logs.amazonaws.com"


class PlatformEdge(Construct):
    """CloudFront at `url` (https:// + the first domain name) in front of the HTTPS origin
    `origin_domain_name` and a private static bucket, behind a CloudFront-scope web ACL.

    Exposes `distribution`, `static_bucket` (server access logs in `static_log_bucket`),
    `certificate`, `web_acl` (a CfnWebACL) and its `waf_log_group`, `key` (the log groups' KMS
    key), `access_log_bucket` or `access_log_group` (whichever `access_log_destination` names;
    the other is None), `response_headers_policy`, `vpc_origin` (or None) and `url`.

    `origin_verify_secret_arn` is the ARN of a secret in another region, replicated (same name)
    into us-east-1; only a dynamic reference to the replica reaches the template.

    `vpc_origin_load_balancer_arn`: an internal load balancer CloudFront reaches through a
    VPC origin (`vpc_origin`, HTTPS and TLS 1.2 as the internet-facing origin; the name on
    its certificate stays `origin_domain_name`); None: the origin is `origin_domain_name` over
    the internet.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: EdgeProps,
        origin_verify_secret_arn: str,
        vpc_origin_load_balancer_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(props)
        stack = Stack.of(self)
        if stack.region != CLOUDFRONT_REGION:
            raise ValueError(
                f"PlatformEdge needs a stack in {CLOUDFRONT_REGION}, not {stack.region}"
            )
        self.url = f"https://{props.domain_names[0]}"
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the CloudFront access and WAF logs of {stack.stack_name}",
            enable_key_rotation=True,
            # The retained log groups stay readable only while the key exists.
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_cloudwatch_logs(self.key, "AllowCloudWatchLogsForEdgeLogGroups")
        acl = add_web_acl(self, props.waf, key=self.key)
        self.web_acl, self.waf_log_group = acl.web_acl, acl.log_group
        self.web_acl_metric_name = acl.metric_name
        self._add_static_bucket(props)
        self.response_headers_policy = self._response_headers_policy(props.security_headers)
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "HostedZone", hosted_zone_id=props.hosted_zone_id, zone_name=props.zone_name
        )
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=props.domain_names[0],
            subject_alternative_names=list(props.domain_names[1:]) or None,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        self.vpc_origin: cloudfront.VpcOrigin | None = None
        if vpc_origin_load_balancer_arn is not None:
            self.vpc_origin = cloudfront.VpcOrigin(
                self,
                "VpcOrigin",
                endpoint=_LoadBalancerEndpoint(vpc_origin_load_balancer_arn),
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            )
        self._add_distribution(props, origin_verify_secret_arn)
        target = route53.RecordTarget.from_alias(
            route53_targets.CloudFrontTarget(self.distribution)
        )
        # Ids from the names, not positions: reordering domain_names must not move records.
        for name in props.domain_names:
            route53.ARecord(self, f"A-{name}", zone=zone, record_name=name, target=target)
            route53.AaaaRecord(self, f"AAAA-{name}", zone=zone, record_name=name, target=target)
        self._add_access_logs(props)
        self.static_deployments = publish_directories(
            self,
            self.static_bucket,
            props.static_sources,
            log_key=self.key,
            log_retention_days=props.access_log_retention_days,
        )
        self._acknowledge_findings(props)

    def _add_static_bucket(self, props: EdgeProps) -> None:
        self.static_bucket, self.static_log_bucket = static_bucket(
            self,
            log_retention_days=props.access_log_retention_days,
            removal=props.static_bucket_removal,
            noncurrent_version_days=props.static_noncurrent_version_days,
            superseded_days=props.static_superseded_days,
        )

    def _response_headers_policy(
        self, headers: SecurityHeaders
    ) -> cloudfront.ResponseHeadersPolicy:
        csp = headers.content_security_policy
        referrer_policy = headers.referrer_policy.upper().replace("-", "_")
        return cloudfront.ResponseHeadersPolicy(
            self,
            "ResponseHeadersPolicy",
            comment=f"Security headers of {self.node.path}"[:128],
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(headers.hsts_max_age_seconds),
                    include_subdomains=headers.hsts_include_subdomains,
                    preload=headers.hsts_preload,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption[headers.frame_options], override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy[referrer_policy], override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                )
                if csp
                else None,
            ),
        )

    def _add_distribution(self, props: EdgeProps, origin_verify_secret_arn: str) -> None:
        viewer_host = self._viewer_host_function(props)

        def behavior(
            origin: cloudfront.IOrigin,
            cache_policy: cloudfront.ICachePolicy,
            request_policy: cloudfront.IOriginRequestPolicy | None = None,
            methods: cloudfront.AllowedMethods = cloudfront.AllowedMethods.ALLOW_ALL,
            functions: Sequence[cloudfront.FunctionAssociation] = (),
        ) -> cloudfront.BehaviorOptions:
            # Compression on and GET/HEAD cached are the defaults.
            return cloudfront.BehaviorOptions(
                origin=origin,
                cache_policy=cache_policy,
                origin_request_policy=request_policy,
                allowed_methods=methods,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=self.response_headers_policy,
                function_associations=list(functions) or None,
            )

        # The origin secret travels either way: behind a VPC origin it still keeps anything
        # else in the VPC from posing as CloudFront.
        origin_headers = {
            props.origin_verify_header_name: _origin_verify_value(origin_verify_secret_arn)
        }
        app_origin: cloudfront.IOrigin = (
            origins.HttpOrigin(
                props.origin_domain_name,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
                custom_headers=origin_headers,
            )
            if self.vpc_origin is None
            else origins.VpcOrigin.with_vpc_origin(
                self.vpc_origin,
                # The name on the load balancer's certificate: CloudFront's SNI and check.
                domain_name=props.origin_domain_name,
                custom_headers=origin_headers,
            )
        )
        # One behaviour object (one origin) for every static path: the distribution binds the
        # origin, and creates its origin access control, once.
        static = behavior(
            origins.S3BucketOrigin.with_origin_access_control(self.static_bucket),
            self._cache_policy("StaticCachePolicy", "Static: path only", props.static_ttl),
            methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        )
        behaviors = dict.fromkeys(props.static_paths, static)
        behaviors[props.api_path] = behavior(
            app_origin, *self._api_policies(props), functions=viewer_host
        )
        # Every method: Next.js server actions and form posts go to page paths. Only the cache
        # key is narrow: the app still gets every viewer header (but Host, which must stay the
        # origin's name for TLS), cookie and query string.
        default = behavior(
            app_origin,
            self._cache_policy(
                "DefaultCachePolicy",
                "Pages: chosen headers and cookies, all query strings",
                props.default_ttl,
                # Pages of host-routed services differ by host: the host is in the key.
                headers=(*props.default_cache_headers, *_present(props.viewer_host_header)),
                cookies=props.default_cache_cookies,
                all_query_strings=True,
            ),
            cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            functions=viewer_host,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{props.domain_names[0]} ({self.node.path})"[:128],
            default_behavior=default,
            additional_behaviors=behaviors,
            domain_names=list(props.domain_names),
            certificate=self.certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            price_class=_PRICE_CLASSES[props.price_class],
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=error.http_status,
                    ttl=Duration.seconds(error.ttl_seconds),
                    response_http_status=error.response_http_status,
                    response_page_path=error.response_page_path,
                )
                for error in props.error_responses
            ],
            web_acl_id=self.web_acl.attr_arn,
        )

    def _viewer_host_function(self, props: EdgeProps) -> list[cloudfront.FunctionAssociation]:
        """CloudFront sends the origin's own name as Host (TLS to the load balancer needs
        it): a viewer-request function copies the viewer's Host into a header the load
        balancer's host-routed rules match. CloudFront answers only its aliases, so the
        value is always one of them."""
        header = props.viewer_host_header
        if header is None:
            return []
        function = cloudfront.Function(
            self,
            "ViewerHostFunction",
            comment=f"Copies the viewer's Host into {header} for host routing at the origin",
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            code=cloudfront.FunctionCode.from_inline(
                "function handler(event) {\n"
                "  var request = event.request;\n"
                f"  request.headers['{header.lower()}'] = "
                "{value: request.headers.host.value};\n"
                "  return request;\n"
                "}\n"
            ),
        )
        return [
            cloudfront.FunctionAssociation(
                function=function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
            )
        ]

    def _cache_policy(
        self,
        construct_id: str,
        comment: str,
        ttl: CacheTtl,
        *,
        headers: Sequence[str] = (),
        cookies: Sequence[str] = (),
        all_cookies: bool = False,
        all_query_strings: bool = False,
    ) -> cloudfront.CachePolicy:
        return cloudfront.CachePolicy(
            self,
            construct_id,
            comment=comment,
            min_ttl=Duration.seconds(ttl.min_seconds),
            default_ttl=Duration.seconds(ttl.default_seconds),
            max_ttl=Duration.seconds(ttl.max_seconds),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
            header_behavior=_listed(cloudfront.CacheHeaderBehavior, headers),
            cookie_behavior=cloudfront.CacheCookieBehavior.all()
            if all_cookies
            else _listed(cloudfront.CacheCookieBehavior, cookies),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all()
            if all_query_strings
            else cloudfront.CacheQueryStringBehavior.none(),
        )

    def _api_policies(
        self, props: EdgeProps
    ) -> tuple[cloudfront.ICachePolicy, cloudfront.IOriginRequestPolicy]:
        headers = props.api_forwarded_headers
        if headers is None:  # every viewer header but Host, Authorization included
            return (
                cloudfront.CachePolicy.CACHING_DISABLED,
                cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            )
        # CloudFront refuses an origin request policy that lists Authorization: a listed
        # Authorization reaches the origin only through the cache key, and a cache policy with
        # every TTL 0 may have no key. So max TTL 1 s, default 0, keyed on Authorization, all
        # cookies and query strings: nothing is cached unless the API sends Cache-Control
        # max-age, and then for a second per credential at most.
        keyed = [h for h in headers if h.lower() == "authorization"]
        cache_policy: cloudfront.ICachePolicy = (
            self._cache_policy(
                "ApiCachePolicy",
                "API: cached only if the origin asks, for 1 s, per Authorization",
                CacheTtl(0, 0, 1),
                headers=keyed,
                all_cookies=True,
                all_query_strings=True,
            )
            if keyed
            else cloudfront.CachePolicy.CACHING_DISABLED
        )
        request_policy = cloudfront.OriginRequestPolicy(
            self,
            "ApiOriginRequestPolicy",
            comment="API: the listed viewer headers, all cookies and query strings",
            header_behavior=_listed(
                cloudfront.OriginRequestHeaderBehavior,
                [h for h in headers if h not in keyed] + list(_present(props.viewer_host_header)),
            ),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.all(),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
        )
        return cache_policy, request_policy

    def _add_access_logs(self, props: EdgeProps) -> None:
        """Standard logging v2 (a vended-log delivery), not the legacy Logging property, which
        needs an ACL-enabled bucket."""
        stack = Stack.of(self)
        kind = props.access_log_destination
        sources = stack.format_arn(
            service="logs",
            resource="delivery-source",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        def grant(actions: list[str], resource: str, **equals: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid="AllowCloudFrontLogDelivery",
                principals=[iam.ServicePrincipal(_LOG_DELIVERY)],
                actions=actions,
                resources=[resource],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account, **equals},
                    "ArnLike": {"aws:SourceArn": sources},
                },
            )

        self.access_log_bucket: s3.Bucket | None = None
        self.access_log_group: logs.LogGroup | None = None
        permission: IConstruct | None
        if kind == "s3":
            bucket = self.access_log_bucket = expiring_log_bucket(
                self,
                "AccessLogBucket",
                retention_days=props.access_log_retention_days,
                removal_policy=RemovalPolicy.RETAIN,
            )
            acl = {"s3:x-amz-acl": "bucket-owner-full-control"}
            bucket.add_to_resource_policy(
                grant(["s3:PutObject"], bucket.arn_for_objects("*"), **acl)
            )
            permission, destination_arn = bucket.policy, bucket.bucket_arn
        else:
            group = self.access_log_group = logs.LogGroup(
                self,
                "AccessLogGroup",
                encryption_key=self.key,
                retention=retention_days(props.access_log_retention_days),
                removal_policy=RemovalPolicy.RETAIN,
            )
            streams = log_group_arn(group, ":log-stream:*")
            permission = logs.ResourcePolicy(
                self,
                "AccessLogDeliveryPolicy",
                policy_statements=[grant(["logs:CreateLogStream", "logs:PutLogEvents"], streams)],
            )
            destination_arn = log_group_arn(group)

        # Names are unique per account and region; the destination's carries its kind, so
        # switching kinds creates the new one before the old one is deleted.
        name = Names.unique_resource_name(self, max_length=48, separator="-")
        source = logs.CfnDeliverySource(
            self,
            "AccessLogSource",
            name=f"{name}-source",
            resource_arn=self.distribution.distribution_arn,
            log_type="ACCESS_LOGS",
        )
        destination = logs.CfnDeliveryDestination(
            self,
            f"AccessLogDestination{kind.title()}",
            name=f"{name}-{kind}",
            destination_resource_arn=destination_arn,
        )
        delivery = logs.CfnDelivery(
            self,
            "AccessLogDelivery",
            delivery_source_name=source.name,
            delivery_destination_arn=destination.attr_arn,
        )
        # Creating the delivery checks that the destination's policy admits the log service.
        delivery.node.add_dependency(source, *([permission] if permission else []))

    def _acknowledge_findings(self, props: EdgeProps) -> None:
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "Access logs use CloudFront standard logging v2 (a CloudWatch Logs vended-log "
            "delivery to this construct's bucket or log group); CFR3 only sees the legacy "
            "Logging property, which needs an ACL-enabled bucket.",
        )
        skip_checkov(
            self.distribution,
            "CKV_AWS_86",
            "Access logs use CloudFront standard logging v2 (the AWS::Logs::Delivery* resources "
            "of this construct); checkov only sees the legacy Logging property.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Country filtering is the web ACL's geo rule (logged and counted in WAF), set per "
            "environment in WafProps.geo, not CloudFront's geo restriction"
            + ("." if props.waf.geo else "; this environment serves every country."),
        )
        acknowledge(
            self.static_bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "Public static assets on SSE-S3: reading SSE-KMS objects through origin access "
            "control needs a key policy per distribution and a KMS call on every cache miss, "
            "for content that is public by design.",
        )
        acknowledge(
            self.static_bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "The static assets are build output that every deployment uploads again; a "
            "cross-region replica would hold nothing a redeployment cannot restore.",
        )
        log_buckets = [self.static_log_bucket]
        skip_checkov(
            self.static_log_bucket,
            "CKV_AWS_18",
            "This bucket only receives the static bucket's S3 server access logs; logging "
            "access to it would need a further log bucket with the same gap.",
        )
        if self.access_log_bucket is not None:
            log_buckets.append(self.access_log_bucket)
            acknowledge(
                self.access_log_bucket,
                ("AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled"),
                "This bucket only receives CloudFront's access logs, which are themselves access "
                "logs; logging access to it would need a further log bucket with the same gap.",
            )
            skip_checkov(
                self.access_log_bucket,
                "CKV_AWS_18",
                "This bucket only receives CloudFront's access logs, which are themselves access "
                "logs; logging access to it would need a further log bucket with the same gap.",
            )
        if props.static_bucket_removal == "destroy":
            # CDK's handler that empties the static bucket before deletion (a generic
            # CfnResource, which cdk-nag's Lambda rules do not check).
            handler = (
                Stack.of(self)
                .node.find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
                .node.find_child("Handler")
            )
            skip_checkov(
                handler,
                "CKV_AWS_117",
                "CDK's auto-delete handler only calls the S3 API when the static bucket is "
                "deleted; it needs nothing inside a VPC.",
            )
            skip_checkov(
                handler,
                "CKV_AWS_115",
                "CDK's auto-delete handler runs only when the static bucket is deleted; reserved "
                "concurrency would only withhold capacity from other functions.",
            )
            skip_checkov(
                handler,
                "CKV_AWS_116",
                "CDK's auto-delete handler answers CloudFormation itself, which fails the "
                "deletion on an error; a dead-letter queue would have no reader.",
            )
        for bucket in log_buckets:
            acknowledge(
                bucket,
                "NIST.800.53.R5-S3DefaultEncryptionKMS",
                "A log bucket on SSE-S3: S3 server access logging delivers only to SSE-S3 "
                "buckets, and vended-log delivery to SSE-KMS would need the key opened to the "
                "delivery service; the logs hold request metadata, no content.",
            )
            acknowledge(
                bucket,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Access logs expire after the configured retention and describe a global "
                "distribution; a cross-region replica adds cost without aiding recovery.",
            )


def _present(value: str | None) -> tuple[str, ...]:
    return () if value is None else (value,)


def _validate(props: EdgeProps) -> None:
    if not props.domain_names or not props.static_paths:
        raise ValueError("domain_names and static_paths need at least one entry each")
    if props.api_path in props.static_paths:
        raise ValueError(f"api_path {props.api_path!r} is also a static path")
    for name, ttl in (("static_ttl", props.static_ttl), ("default_ttl", props.default_ttl)):
        # CloudFront refuses a cache key or compression on a policy whose TTLs are all 0.
        if (
            not 0 <= ttl.min_seconds <= ttl.default_seconds <= ttl.max_seconds
            or not ttl.max_seconds
        ):
            raise ValueError(f"{name} must satisfy 0 <= min <= default <= max, max > 0")
    # CloudFront sets Accept-Encoding itself (the gzip/brotli switches) and refuses policies
    # that list it.
    if any(
        h.lower() == "accept-encoding"
        for h in (*props.default_cache_headers, *(props.api_forwarded_headers or ()))
    ):
        raise ValueError(
            "default_cache_headers and api_forwarded_headers may not list Accept-Encoding"
        )
    for error in props.error_responses:
        page = error.response_page_path
        if (page is None) != (error.response_http_status is None):
            raise ValueError(
                "an error response sets response_page_path and response_http_status together"
            )
        # The error page must not come from the origin that is failing.
        if page is not None and not any(
            cloudfront_path_matches(path, page) for path in props.static_paths
        ):
            raise ValueError(f"error page {page!r} is not under a static path {props.static_paths}")


def _listed(behavior: Any, names: Sequence[str]) -> Any:
    """`behavior.allow_list(*names)`, or `behavior.none()` for no names (cache and origin
    request header and cookie behaviours alike)."""
    return behavior.allow_list(*names) if names else behavior.none()


class _LoadBalancerEndpoint(cloudfront.VpcOriginEndpoint):
    """A VPC origin endpoint from a load balancer's ARN alone: CDK's
    `VpcOriginEndpoint.application_load_balancer` needs the L2, which another region's stack
    cannot hand over (the ARN arrives as a cross-region reference)."""

    def __init__(self, arn: str) -> None:
        super().__init__()
        self._arn = arn

    @property
    def endpoint_arn(self) -> str:
        return self._arn

    @property
    def domain_name(self) -> str | None:
        return None


def _origin_verify_value(secret_arn: str) -> str:
    """A dynamic reference to the us-east-1 replica of `secret_arn`: CloudFormation resolves
    Secrets Manager references only in the stack's own region, and a replica keeps the
    primary's name and suffix (the ARN's 7th field)."""
    # Fn::Split refuses Fn::GetStackOutput (what a cross-region token becomes; cfn-lint
    # E1022) but takes Fn::Sub, which takes Fn::GetStackOutput.
    name = Fn.select(6, Fn.split(":", Fn.sub("${Arn}", {"Arn": secret_arn})))
    replica_arn = f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:{name}"
    return SecretValue.secrets_manager(replica_arn).unsafe_unwrap()
