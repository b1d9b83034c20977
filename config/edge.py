"""Config of the Edge stack: CloudFront's names, behaviours and their cache settings, the
security headers, error responses, access logs and the web ACL (`edge` in a config file)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from config.primitives import (
    ConfigModel,
    DomainName,
    FieldError,
    RetentionDays,
    pattern,
    unique,
)
from l3_constructs.limits import ONE_YEAR_SECONDS, ReferrerPolicy, cloudfront_path_matches

_HEADER_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_COOKIE_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
_PATH_PATTERN_RE = re.compile(r"^/[A-Za-z0-9_\-.*$/~\"'@:+?&=]*$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_WAF_RULE_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: Headers CloudFront will not forward or key on by name (it sets or strips them itself).
_CLOUDFRONT_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection", "Content-Length", "Expect", "Host", "Proxy-Authorization", "TE",
        "Trailer", "Transfer-Encoding", "Upgrade", "Via", "X-Amz-Cf-Id", "X-Cache",
        "X-Forwarded-Proto", "X-Real-IP",
    )
)  # fmt: skip
TtlSeconds = Annotated[StrictInt, Field(ge=0, le=ONE_YEAR_SECONDS * 100)]
HeaderName = Annotated[StrictStr, pattern(_HEADER_RE, "an HTTP header name")]


def _not_reserved_headers(values: tuple[str, ...]) -> tuple[str, ...]:
    reserved = [v for v in values if v.lower() in _CLOUDFRONT_RESERVED_HEADERS]
    if reserved:
        raise ValueError(f"CloudFront does not forward or cache on {', '.join(reserved)}")
    return values


HeaderList = Annotated[tuple[HeaderName, ...], unique(), AfterValidator(_not_reserved_headers)]


class CacheTtl(ConfigModel):
    """Time to live in CloudFront's cache (seconds)."""

    min_seconds: TtlSeconds = Field(description="Shortest, whatever the origin says.")
    default_seconds: TtlSeconds = Field(description="When the origin sends no Cache-Control.")
    max_seconds: TtlSeconds = Field(description="Longest, whatever the origin says.")

    @model_validator(mode="after")
    def _check(self) -> CacheTtl:
        if not self.min_seconds <= self.default_seconds <= self.max_seconds:
            raise FieldError(
                "default_seconds",
                "needs min_seconds <= default_seconds <= max_seconds, got "
                f"{self.min_seconds} / {self.default_seconds} / {self.max_seconds}",
                cross_field=True,
            )
        return self


class StaticAssets(ConfigModel):
    """The private S3 bucket CloudFront serves static paths from (Origin Access Control)."""

    paths: Annotated[
        tuple[Annotated[StrictStr, pattern(_PATH_PATTERN_RE, "a path pattern like '/x/*'")], ...],
        unique(),
    ] = Field(("/_next/static/*",), description="Path patterns served from the bucket.")
    cache: CacheTtl = Field(
        default_factory=lambda: CacheTtl(
            min_seconds=ONE_YEAR_SECONDS,
            default_seconds=ONE_YEAR_SECONDS,
            max_seconds=ONE_YEAR_SECONDS,
        ),
        description="Content-hashed files: cached a year.",
    )
    removal_policy: Literal["retain", "destroy"] = Field(
        "retain", description="`destroy` empties and deletes the bucket with the stack."
    )
    noncurrent_version_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        30, description="Days an overwritten or deleted object's old version is kept."
    )
    superseded_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        30,
        description="Days a published file stays after a release stopped using it (the "
        "previous release's tasks and open browser tabs still load it meanwhile).",
    )

    @model_validator(mode="after")
    def _check(self) -> StaticAssets:
        if not self.paths:
            raise FieldError("paths", "needs at least one path pattern (e.g. '/_next/static/*')")
        return self


class ApiBehaviour(ConfigModel):
    """The API path: never cached, every method, forwarded to the load balancer."""

    path: Annotated[StrictStr, pattern(_PATH_PATTERN_RE, "a path pattern like '/api/*'")] = Field(
        "/api/*", description="Path pattern of the API."
    )
    forwarded_headers: HeaderList | None = Field(
        None,
        description="Viewer headers forwarded; null forwards every viewer header except Host. "
        "Cookies and query strings are always forwarded.",
    )


class DefaultBehaviour(ConfigModel):
    """Everything else (`/*`): to the load balancer, cached only as the origin allows."""

    cache_headers: HeaderList = Field((), description="Headers in the cache key.")
    cache_cookies: Annotated[
        tuple[Annotated[StrictStr, pattern(_COOKIE_RE, "a cookie name")], ...],
        unique(),
    ] = Field((), description="Cookies in the cache key.")
    cache: CacheTtl = Field(
        default_factory=lambda: CacheTtl(
            min_seconds=0, default_seconds=0, max_seconds=ONE_YEAR_SECONDS
        ),
        description="Default TTL 0: only what the origin marks cacheable is cached.",
    )


class SecurityHeaders(ConfigModel):
    """Security headers added to every response (overriding the origin's)."""

    hsts_max_age_seconds: Annotated[StrictInt, Field(ge=0, le=ONE_YEAR_SECONDS * 2)] = Field(
        63_072_000, description="Strict-Transport-Security max-age."
    )
    hsts_include_subdomains: StrictBool = Field(True, description="HSTS includeSubDomains.")
    hsts_preload: StrictBool = Field(False, description="HSTS preload (needs 1 year or more).")
    frame_options: Literal["DENY", "SAMEORIGIN"] = Field("DENY", description="X-Frame-Options.")
    referrer_policy: ReferrerPolicy = Field(
        "strict-origin-when-cross-origin", description="Referrer-Policy."
    )
    content_security_policy: (
        Annotated[StrictStr, Field(min_length=1, max_length=1783, pattern=r"^[\x20-\x7e]+$")] | None
    ) = Field(None, description="Content-Security-Policy; null sends none.")

    @model_validator(mode="after")
    def _check(self) -> SecurityHeaders:
        if self.hsts_preload and not (
            self.hsts_include_subdomains and self.hsts_max_age_seconds >= ONE_YEAR_SECONDS
        ):
            raise FieldError(
                "hsts_preload",
                "needs hsts_include_subdomains and hsts_max_age_seconds >= 31536000 "
                "(the preload list's rules)",
                cross_field=True,
            )
        return self


class ErrorResponse(ConfigModel):
    """How CloudFront answers an error status from an origin."""

    http_status: Literal[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504] = Field(
        description="The origin's status."
    )
    ttl_seconds: TtlSeconds = Field(description="How long CloudFront caches this error.")
    response_http_status: Annotated[StrictInt, Field(ge=200, le=599)] | None = Field(
        None, description="Status sent to the viewer instead (needs response_page_path)."
    )
    response_page_path: Annotated[StrictStr, Field(pattern=r"^/[\x21-\x7e]*$")] | None = Field(
        None, description="Page sent instead; must lie under a static path."
    )

    @model_validator(mode="after")
    def _check(self) -> ErrorResponse:
        if (self.response_http_status is None) != (self.response_page_path is None):
            missing = (
                "response_page_path"
                if self.response_page_path is None
                else ("response_http_status")
            )
            raise FieldError(
                missing,
                "response_http_status and response_page_path go together",
                cross_field=True,
            )
        return self


class GeoMatch(ConfigModel):
    """Country rule of the web ACL."""

    mode: Literal["block", "allow"] = Field(
        description="`block` the countries listed, or `allow` only them."
    )
    countries: Annotated[
        tuple[Annotated[StrictStr, pattern(_COUNTRY_RE, "an ISO 3166-1 alpha-2 code")], ...],
        Field(min_length=1, max_length=100),
        unique(),
    ] = Field(description="ISO 3166-1 alpha-2 codes, e.g. `JP`.")


class Waf(ConfigModel):
    """The CloudFront web ACL."""

    rate_limit: Annotated[StrictInt, Field(ge=10, le=2_000_000_000)] = Field(
        2000, description="Requests per 5 minutes from one IP address before it is blocked."
    )
    common_rules_count_only: Annotated[
        tuple[Annotated[StrictStr, pattern(_WAF_RULE_RE, "a WAF rule name")], ...],
        unique(),
    ] = Field(
        (),
        description="Rules of AWSManagedRulesCommonRuleSet that only count "
        "(e.g. `SizeRestrictions_BODY` for request bodies over 8 KB).",
    )
    geo: GeoMatch | None = Field(None, description="Optional country block or allow list.")
    log_retention_days: RetentionDays = Field(90, description="Days WAF logs are kept.")


class AccessLogs(ConfigModel):
    """CloudFront standard logging (v2)."""

    destination: Literal["s3", "cloudwatch"] = Field(
        "s3", description="`s3`: an S3 bucket; `cloudwatch`: a KMS-encrypted log group."
    )
    retention_days: RetentionDays = Field(90, description="Days access logs are kept.")


class Edge(ConfigModel):
    """CloudFront, its web ACL and static-asset bucket (deployed in us-east-1)."""

    domain_names: Annotated[tuple[DomainName, ...], Field(max_length=10), unique()] = Field(
        description="Viewer names (certificate, aliases, A + AAAA records), in the zone. "
        "`{stage}` stands for the lower-cased stage name, e.g. `app-{stage}.example.com`."
    )
    price_class: Literal["100", "200", "all"] = Field(
        "200", description="CloudFront price class: edge locations used."
    )
    static: StaticAssets = Field(default_factory=StaticAssets)
    api: ApiBehaviour = Field(default_factory=ApiBehaviour)
    default: DefaultBehaviour = Field(default_factory=DefaultBehaviour)
    origin_verify_header: HeaderName = Field(
        "X-Origin-Verify",
        description="Header carrying the generated origin secret the load balancer demands.",
    )
    vpc_origin: StrictBool = Field(
        False,
        description="`true`: the load balancer is internal, in the private subnets, and "
        "CloudFront reaches it through a VPC origin (no public addresses to pay for, nothing "
        "on the internet to bypass CloudFront with); `false`: internet-facing in the public "
        "subnets, open to CloudFront's origin-facing addresses only. Switching replaces the "
        'load balancer (README "Edge").',
    )
    security_headers: SecurityHeaders = Field(default_factory=SecurityHeaders)
    access_logs: AccessLogs = Field(default_factory=AccessLogs)
    error_responses: tuple[ErrorResponse, ...] = Field(
        (), description="Custom error responses (each status at most once)."
    )
    waf: Waf = Field(default_factory=Waf)

    @model_validator(mode="after")
    def _check(self) -> Edge:
        if not self.domain_names:
            raise FieldError("domain_names", "needs at least one name")
        statuses = [e.http_status for e in self.error_responses]
        if len(set(statuses)) != len(statuses):
            raise FieldError("error_responses", f"lists a status twice: {statuses}")
        for i, error in enumerate(self.error_responses):
            page = error.response_page_path
            if page and not any(cloudfront_path_matches(p, page) for p in self.static.paths):
                raise FieldError(
                    f"error_responses.{i}.response_page_path",
                    f"{page!r} is not under a static path ({', '.join(self.static.paths)}): "
                    "CloudFront would fetch the error page from the origin that failed",
                    cross_field=True,
                )
        if self.api.path in self.static.paths:
            raise FieldError("api.path", f"{self.api.path!r} is also a static path")
        if self.origin_verify_header.lower() in _CLOUDFRONT_RESERVED_HEADERS or (
            self.origin_verify_header.lower().startswith("x-amz-")
        ):
            raise FieldError(
                "origin_verify_header",
                f"{self.origin_verify_header!r} is a header CloudFront reserves",
            )
        return self
