"""PlatformLoadBalancer: the one HTTPS load balancer of an environment, in front of every web
service, with its certificate, DNS name and access logs.

Each web service (`PlatformService`) adds its own listener rule and target group(s). With a
`CloudFrontOrigin` the load balancer serves CloudFront alone: CloudFront's origin-facing
prefix list is the only source on 443, and every rule also demands the origin-verify header
(`route_conditions`); requests without it get 403. With `CloudFrontOrigin.vpc_origin` it is
internal (placed in private subnets by the caller): CloudFront reaches it through a VPC origin
and it has no public address at all.

Knows nothing of environments: every choice arrives in `LoadBalancerProps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from l3_constructs.compliance import acknowledge
from l3_constructs.shared import (
    acknowledge_access_log_bucket,
    acknowledge_aws_custom_resource_function,
    encrypted_function_log_group,
    expiring_log_bucket,
)

#: AWS-managed prefix list of CloudFront's origin-facing addresses (IPv4), in every region.
CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"


@dataclass(frozen=True)
class CloudFrontOrigin:
    """Serve only CloudFront: the load balancer admits CloudFront's origin-facing addresses
    alone (port 443) and answers 403 to any request without `header_name` set to a secret
    generated into Secrets Manager (`PlatformLoadBalancer.origin_verify_secret`)."""

    header_name: str
    #: Where the distribution reads the secret: it is replicated there (us-east-1).
    secret_replica_region: str
    #: The header a CloudFront function sets to the viewer's Host, for host-routed services
    #: (CloudFront sends the origin's own name as Host); None: no host routing.
    viewer_host_header: str | None = None
    #: True: internal, reached through a CloudFront VPC origin (`vpc_origin_arn`); False:
    #: internet-facing, open to CloudFront's origin-facing prefix list only.
    vpc_origin: bool = False


@dataclass(frozen=True)
class LoadBalancerProps:
    #: The load balancer's HTTPS name, e.g. "origin.example.com", in the zone below.
    domain_name: str
    hosted_zone_id: str
    zone_name: str
    deletion_protection: bool = True
    access_log_retention_days: int = 90
    #: None: the load balancer serves the internet directly (HTTP redirected to HTTPS).
    cloudfront_origin: CloudFrontOrigin | None = None
    #: Deploy-time function logs (the prefix-list look-up).
    log_retention_days: int = 30
    #: How the load balancer treats requests that could desynchronise it from its targets
    #: (HTTP request smuggling): "defensive" (AWS's default) routes compliant requests,
    #: mitigates ambiguous ones and blocks severe ones; "strictest" routes compliant
    #: requests only.
    desync_mitigation_mode: Literal["defensive", "strictest"] = "defensive"


class PlatformLoadBalancer(Construct):
    """Exposes `load_balancer`, `security_group`, `access_log_bucket`, `certificate`,
    `https_listener` (default: 403 behind CloudFront, else 404), `origin_verify_secret`
    (with `cloudfront_origin`, else None), `internal`, `vpc_origin_arn`, `domain_name` and
    `url`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: LoadBalancerProps,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        key: kms.Key,
    ) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.domain_name = props.domain_name
        self.url = f"https://{props.domain_name}"
        self.internal = props.cloudfront_origin is not None and props.cloudfront_origin.vpc_origin
        self._key = key
        # No key: ALB access logs can only be delivered to SSE-S3 buckets.
        self.access_log_bucket = expiring_log_bucket(
            self,
            "AccessLogBucket",
            retention_days=props.access_log_retention_days,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.security_group = self._security_group(props, vpc)
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=not self.internal,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            deletion_protection=props.deletion_protection,
            # Set even when it is AWS's default: the template states it, so a reviewer (and
            # checkov) need not know the default.
            desync_mitigation_mode=_DESYNC_MODES[props.desync_mitigation_mode],
        )
        self.load_balancer.log_access_logs(self.access_log_bucket)
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "HostedZone", hosted_zone_id=props.hosted_zone_id, zone_name=props.zone_name
        )
        self.certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=props.domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        route53.ARecord(
            self,
            "AliasRecord",
            zone=zone,
            record_name=props.domain_name,
            target=route53.RecordTarget.from_alias(
                route53_targets.LoadBalancerTarget(self.load_balancer)
            ),
        )
        origin = props.cloudfront_origin
        # Requests that match no service's rule: 403 behind CloudFront (they lack the secret
        # header, or ask for no route), else 404.
        fallback = (
            elbv2.ListenerAction.fixed_response(
                403, content_type="text/plain", message_body="Forbidden"
            )
            if origin is not None
            else elbv2.ListenerAction.fixed_response(404)
        )
        self.https_listener = elbv2.ApplicationListener(
            self,
            "HttpsListener",
            load_balancer=self.load_balancer,
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_certificate_manager(self.certificate)],
            ssl_policy=elbv2.SslPolicy.TLS13_12_PQ,
            open=False,
            default_action=fallback,
        )
        self.origin_verify_secret: secretsmanager.Secret | None = None
        if origin is not None:
            self.origin_verify_secret = self._origin_verify_secret(origin)
        else:
            elbv2.ApplicationListener(
                self,
                "HttpListener",
                load_balancer=self.load_balancer,
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port="443", permanent=True
                ),
            )
        self._acknowledge_findings()

    @property
    def vpc_origin_arn(self) -> str | None:
        """The load balancer's ARN as a plain `Ref` for the distribution's VPC origin (the
        L2's attribute cannot be read from another region), or None when internet-facing."""
        if not self.internal:
            return None
        return cast("elbv2.CfnLoadBalancer", self.load_balancer.node.default_child).ref

    def route_conditions(
        self, *, paths: tuple[str, ...] = (), hosts: tuple[str, ...] = ()
    ) -> list[elbv2.ListenerCondition]:
        """The conditions of a service's rule: its paths and hosts (`/*` for neither), plus
        the origin-verify header behind CloudFront. Hosts are matched on the viewer-host
        header CloudFront sets (CloudFront sends the origin's own name as Host)."""
        conditions = [elbv2.ListenerCondition.path_patterns(list(paths or ("/*",)))]
        origin = self.props.cloudfront_origin
        if hosts:
            if origin is None:
                conditions.append(elbv2.ListenerCondition.host_headers(list(hosts)))
            elif origin.viewer_host_header is None:
                raise ValueError("host routing behind CloudFront needs viewer_host_header")
            else:
                conditions.append(
                    elbv2.ListenerCondition.http_header(origin.viewer_host_header, list(hosts))
                )
        if origin is not None and self.origin_verify_secret is not None:
            # A dynamic reference: CloudFormation resolves it at deploy time, so the value is
            # in neither the template nor the CDK output.
            value = self.origin_verify_secret.secret_value.unsafe_unwrap()
            conditions.append(elbv2.ListenerCondition.http_header(origin.header_name, [value]))
        return conditions

    def _security_group(self, props: LoadBalancerProps, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        origin = props.cloudfront_origin
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Internet-facing load balancer: HTTP and HTTPS from anywhere"
            if origin is None
            else "Internal load balancer: HTTPS from the CloudFront VPC origin only"
            if origin.vpc_origin
            else "Load balancer: HTTPS from the CloudFront origin-facing prefix list only",
            # Egress is added per target: each service's port, to the service's group.
            allow_all_outbound=False,
        )
        if origin is None:
            for port, description in ((443, "HTTPS"), (80, "HTTP, redirected to HTTPS")):
                group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port), description)
            return group
        # HTTPS only: viewers' HTTP is redirected by CloudFront, which reaches origins over
        # HTTPS. A VPC origin's traffic comes from interfaces CloudFront places in the
        # subnets, whose addresses the same prefix list admits (AWS's guidance when the VPC
        # origin is created; the group CloudFront creates with it exists only afterwards).
        # One rule, because a prefix-list rule counts as the list's maximum entries (55)
        # against the group's quota of 60 rules: a second one (port 80) would not fit.
        group.add_ingress_rule(
            ec2.Peer.prefix_list(self._cloudfront_prefix_list_id(props)),
            ec2.Port.tcp(443),
            "HTTPS from the CloudFront origin-facing prefix list",
        )
        return group

    def _cloudfront_prefix_list_id(self, props: LoadBalancerProps) -> str:
        """The id of CloudFront's origin-facing prefix list in this region, found by name
        at deploy time (ids differ per region; a synth-time look-up cannot run offline)."""
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={
                "Filters": [
                    {"Name": "prefix-list-name", "Values": [CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST]}
                ]
            },
            physical_resource_id=cr.PhysicalResourceId.of(CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "CloudFrontPrefixList",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
            log_group=encrypted_function_log_group(
                self,
                "PrefixListLookupLogs",
                key=self._key,
                retention_days=props.log_retention_days,
            ),
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")

    def _origin_verify_secret(self, origin: CloudFrontOrigin) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            "OriginVerifySecret",
            description="Value of the header CloudFront adds to every request to this "
            "environment's load balancer; requests without it get 403",
            encryption_key=self._key,
            # Letters and digits only: ALB header conditions treat * and ? as wildcards.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True, include_space=False
            ),
            # CloudFormation resolves the distribution's dynamic reference in its own region.
            replica_regions=[
                secretsmanager.ReplicaRegion(region=region)
                for region in replica_regions(origin, Stack.of(self).region)
            ]
            or None,
        )

    def _acknowledge_findings(self) -> None:
        props = self.props
        bucket = self.access_log_bucket
        acknowledge_access_log_bucket(
            bucket,
            receives="the load balancer's access logs",
            sse_s3="Elastic Load Balancing delivers access logs only to buckets encrypted with "
            "SSE-S3 (S3-managed keys); a KMS default key would make every log delivery fail.",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs describe this region's load balancer and expire after the configured "
            "retention; a cross-region replica adds cost without aiding recovery.",
        )
        if props.cloudfront_origin is None:
            acknowledge(
                self.security_group,
                "AwsSolutions-EC23",
                "Without a CloudFront origin (LoadBalancerProps.cloudfront_origin) this load "
                "balancer serves viewers directly and must accept HTTP and HTTPS from anywhere.",
            )
            acknowledge(
                self.node.find_child("HttpListener"),
                "NIST.800.53.R5-ELBv2ACMCertificateRequired",
                "The plain HTTP listener serves nothing: its only action is a permanent "
                "redirect to the HTTPS listener, which uses the ACM certificate.",
            )
        elif self.origin_verify_secret is not None:
            acknowledge(
                self.origin_verify_secret,
                ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled"),
                "The origin secret is set by CloudFormation in two places at once (the "
                "distribution's origin header and the listener rules); a scheduled rotation "
                "would change it behind both and refuse all traffic until the next deployment.",
            )
            acknowledge(
                self.node.find_child("CloudFrontPrefixList"),
                ("AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy"),
                "CDK's policy for the prefix-list look-up: ec2:DescribeManagedPrefixLists has "
                "no resource-level permissions, and the role serves this one read-only call.",
            )
            acknowledge_aws_custom_resource_function(
                self,
                calls="the read-only DescribeManagedPrefixLists look-up of a public prefix-list id",
                when="once per deployment",
            )
        if not props.deletion_protection:
            acknowledge(
                self.load_balancer,
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                "Deletion protection is a per-deployment setting (LoadBalancerProps."
                "deletion_protection); this one turns it off so the stack can be deleted.",
            )
        acknowledge(
            self.load_balancer,
            "NIST.800.53.R5-ALBWAFEnabled",
            "The web ACL belongs to the edge layer (CloudFront in front of this origin); a "
            "second regional WAF here would duplicate its rules for the same requests.",
        )


_DESYNC_MODES = {
    "defensive": elbv2.DesyncMitigationMode.DEFENSIVE,
    "strictest": elbv2.DesyncMitigationMode.STRICTEST,
}


def replica_regions(origin: CloudFrontOrigin, region: str) -> list[str]:
    """Where the origin secret needs a replica: the distribution's region, unless the load
    balancer is there already (Secrets Manager refuses a replica in the primary's region)."""
    return [] if origin.secret_replica_region == region else [origin.secret_replica_region]
