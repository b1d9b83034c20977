"""Typed, immutable, validated configuration of one environment.

Every difference between environments is a value here; stacks and constructs read these
objects and nothing else. Models are pydantic v2 (see README "Configuration" for why):
unknown keys are rejected, every value is checked, and cross-field rules run after the
fields parse. Error messages are written for people: the loader prefixes them with the
file and the field path.

This module holds the environment (`EnvironmentConfig`) and its network, DNS, compute and
migration sections; the larger sections have modules of their own: `config.database`,
`config.services` and `config.service_parts` (the workloads, storage), `config.edge`,
`config.pipeline`, `config.operations` (observability, security baseline, data
protection, compliance) and `config.cost` (budget, usage assumptions); the shared building
blocks are in `config.primitives`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from config.capacity import Ec2Capacity, check_ec2_capacity
from config.cost import Cost, check_region_priced
from config.database import Database
from config.edge import Edge
from config.operations import Compliance, DataProtection, Observability, SecurityBaseline
from config.pipeline import CONNECTION_ARN_RE, Pipeline
from config.primitives import (
    AccountId,
    ConfigModel,
    DomainName,
    FieldError,
    Ipv4Cidr,
    ManyFieldsError,
    Region,
    RetentionDays,
    StageName,
    SubnetMask,
    TagValue,
    pattern,
    read_only,
)
from config.service_parts import CapacityProviderName, ServiceName, SpotMix, Storage
from config.services import Services, check_services, drop_removed_services
from l3_constructs.limits import cloudfront_path_matches

# --------------------------------------------------------------------------- sections


class Tags(ConfigModel):
    """Tags applied to every taggable resource of the environment."""

    project: TagValue = Field(description="Project tag (`Project`).")
    environment: TagValue = Field(description="Environment tag (`Environment`).")
    owner: EmailStr = Field(description="Owning team's e-mail address (`Owner`).")
    cost_centre: TagValue = Field(description="Cost centre for billing (`CostCentre`).")
    extra: Annotated[Mapping[StrictStr, TagValue], AfterValidator(read_only)] = Field(
        default_factory=dict, description="Further tags, key to value."
    )

    def as_dict(self) -> dict[str, str]:
        """Tag key to value, in a stable order."""
        return {
            "Project": self.project,
            "Environment": self.environment,
            "Owner": str(self.owner),
            "CostCentre": self.cost_centre,
            **dict(sorted(self.extra.items())),
        }


NatMode = Literal["none", "single", "per_az"]

#: Interface endpoint names (the part after `com.amazonaws.<region>.`) this platform supports.
InterfaceEndpointName = Literal[
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "secretsmanager",
    "kms",
    "sts",
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "xray",
    "elasticloadbalancing",
]


class SubnetMasks(ConfigModel):
    """CIDR mask of each subnet group (one subnet per AZ in each group)."""

    public: SubnetMask = Field(24, description="Mask of each public subnet.")
    private: SubnetMask = Field(22, description="Mask of each private (application) subnet.")
    isolated: SubnetMask = Field(24, description="Mask of each isolated (database) subnet.")


class FlowLogs(ConfigModel):
    """VPC flow logs."""

    destination: Literal["cloudwatch", "s3"] = Field(
        "cloudwatch",
        description="`cloudwatch`: a KMS-encrypted log group; `s3`: a KMS-encrypted bucket.",
    )
    retention_days: RetentionDays = Field(
        90, description="Days flow logs are kept (log group retention or bucket expiry)."
    )
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = Field(
        "ALL", description="Which traffic is logged."
    )
    retain_on_delete: StrictBool = Field(
        True, description="Keep the flow-log key and log group / bucket when the stack is deleted."
    )


class Network(ConfigModel):
    """The VPC: CIDR, zones, subnets, NAT, endpoints, flow logs."""

    cidr: Ipv4Cidr = Field(description="VPC CIDR, /16 to /24, unique across environments.")
    availability_zones: tuple[StrictStr, ...] = Field(
        description="2 or 3 zone names in the environment's region, e.g. `ap-northeast-1a`.",
    )
    nat: NatMode = Field(
        "single",
        description="`none`: no NAT, private subnets have no egress; `single`: one NAT "
        "gateway; `per_az`: one per zone.",
    )
    subnet_masks: SubnetMasks = Field(default_factory=SubnetMasks)
    interface_endpoints: tuple[InterfaceEndpointName, ...] = Field(
        (),
        description="Interface endpoints (private DNS on, 443 from the VPC only). "
        "The S3 gateway endpoint is always created.",
    )
    flow_logs: FlowLogs = Field(default_factory=FlowLogs)

    @model_validator(mode="after")
    def _check(self) -> Network:
        zones = self.availability_zones
        if not 2 <= len(zones) <= 3:
            raise FieldError(
                "availability_zones",
                f"lists {len(zones)} zone(s); the platform spans 2 or 3",
            )
        if len(set(zones)) != len(zones):
            raise FieldError("availability_zones", f"lists a zone twice: {list(zones)}")
        if len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise FieldError("interface_endpoints", "lists an endpoint twice")
        vpc = ipaddress.IPv4Network(self.cidr)
        masks = self.subnet_masks
        too_wide = [
            f"{name} /{mask}"
            for name, mask in (
                ("public", masks.public),
                ("private", masks.private),
                ("isolated", masks.isolated),
            )
            if mask < vpc.prefixlen
        ]
        if too_wide:
            verb = "is" if len(too_wide) == 1 else "are"
            raise FieldError(
                "subnet_masks",
                f"{', '.join(too_wide)} {verb} wider than the VPC CIDR {self.cidr}",
                cross_field=True,
            )
        needed = sum(2 ** (32 - m) for m in (masks.public, masks.private, masks.isolated))
        needed *= len(zones)
        if needed > vpc.num_addresses:
            raise FieldError(
                "subnet_masks",
                f"need {needed} addresses over {len(zones)} zones; "
                f"the VPC CIDR {self.cidr} has {vpc.num_addresses}",
                cross_field=True,
            )
        return self


#: Endpoints a Fargate task needs in subnets without NAT (with the S3 gateway endpoint).
NO_NAT_TASK_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")
_ZONE_ID_RE = re.compile(r"^Z[A-Z0-9]{1,31}$")
Seconds = Annotated[StrictInt, Field(ge=0, le=3600)]


class Dns(ConfigModel):
    """The Route 53 hosted zone the environment's names live in (named, never looked up)."""

    zone_name: DomainName = Field(description="Hosted zone name, e.g. `example.com`.")
    hosted_zone_id: Annotated[
        StrictStr, pattern(_ZONE_ID_RE, "a Route 53 hosted zone id like 'Z0123456789ABC'")
    ] = Field(description="Hosted zone id.")


#: Settings that were the single service's in `compute` and are now each service's.
_MOVED_TO_SERVICES = (
    "image", "cpu", "memory_mib", "architecture", "container_port", "command", "environment",
    "capacity", "scaling", "deployment", "health_check", "deregistration_delay_seconds",
    "log_retention_days", "enable_execute_command",
)  # fmt: skip


class Compute(ConfigModel):
    """What the environment's services share: the ECS cluster and its Service Connect
    namespace, the one HTTPS load balancer (its origin name), and where tasks run."""

    domain_name: DomainName = Field(
        description="The load balancer's HTTPS name (certificate + alias record), in the zone. "
        "`{stage}` stands for the lower-cased stage name, e.g. `origin-{stage}.example.com`."
    )
    subnets: Literal["private", "public"] = Field(
        "private",
        description="Where tasks run; `public` (with a public IP) only for `network.nat: none`.",
    )
    load_balancer_deletion_protection: StrictBool = Field(
        True, description="Deletion protection on the load balancer."
    )
    load_balancer_desync_mode: Literal["defensive", "strictest"] = Field(
        "defensive",
        description="How the load balancer treats ambiguous requests (HTTP desync): "
        "`defensive` (AWS's default) or `strictest`.",
    )
    capacity_provider: CapacityProviderName = Field(
        "fargate",
        description="Where services run by default: `fargate`, `fargate_spot` (the "
        "`spot_mix` of Fargate and Fargate Spot) or `ec2` (the `ec2` instances). Jobs and "
        "the migration run on Fargate.",
    )
    container_insights: Literal["enhanced", "enabled", "disabled"] = Field(
        "enhanced",
        description="CloudWatch Container Insights of the cluster: `enhanced` (task and "
        "container metrics too), `enabled` (cluster and service metrics) or `disabled` (no "
        "charge; workers then scale by steps on their backlog).",
    )
    ec2: Ec2Capacity | None = Field(
        None,
        description="The EC2 instances services with capacity_provider `ec2` run on; null: "
        "none (every service on Fargate).",
    )
    spot_mix: SpotMix = Field(
        default_factory=SpotMix, description="The Fargate / Fargate Spot mix of fargate_spot."
    )
    access_log_retention_days: Annotated[StrictInt, Field(ge=1, le=3650)] = Field(
        90, description="Days load balancer access logs are kept."
    )
    ecr_keep_images: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        30, description="Images each service's ECR lifecycle rule keeps."
    )
    service_connect_namespace: DomainName | None = Field(
        None,
        description="Cloud Map (HTTP) namespace of Service Connect; null: `<stage>.internal`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: object) -> object:
        if isinstance(data, Mapping):
            for key in _MOVED_TO_SERVICES:
                if key in data:
                    new = "port" if key == "container_port" else key
                    raise FieldError(
                        key,
                        f"moved to services.<name>.{new}: each service has its own "
                        "(README 'Upgrading from one service')",
                    )
        return data


class Migration(ConfigModel):
    """The one-shot migration task run before its service's every update."""

    service: ServiceName = Field(
        description="The service whose image the migration runs (container `migration`) and "
        "whose update waits for it; it must use the database."
    )
    command: tuple[StrictStr, ...] = Field(
        ("python", "-m", "sample_api", "migrate"),
        min_length=1,
        description="Command of the `migration` container (the service's image).",
    )
    timeout_minutes: Annotated[StrictInt, Field(ge=1, le=55)] = Field(
        15,
        description="A migration still running after this is stopped and fails the "
        "deployment (CloudFormation waits at most an hour for a custom resource).",
    )


# --------------------------------------------------------------------------- environment


class EnvironmentConfig(ConfigModel):
    """Everything that describes one environment (one CDK Stage)."""

    stage_name: StageName = Field(
        description="CDK Stage id and stack-name prefix, e.g. `Prod` (stacks `Prod-Network`)."
    )
    account: AccountId = Field(description="AWS account id (12 digits).")
    region: Region = Field(description="AWS region of the environment's regional stacks.")
    termination_protection: StrictBool = Field(
        False, description="CloudFormation termination protection on every stack."
    )
    tags: Tags
    network: Network
    database: Database
    dns: Dns
    compute: Compute
    services: Annotated[Services, BeforeValidator(drop_removed_services)] = Field(
        description="The workloads, name -> service (1-20; `name: null` removes one that "
        "defaults.yaml defines)."
    )
    storage: Storage | None = Field(
        None, description="An S3 bucket for the application's files; null: none."
    )
    migration: Migration
    edge: Edge
    pipeline: Pipeline | None = Field(
        None,
        description="Delivery pipeline; null: none (each service runs its configured image).",
    )
    observability: Observability = Field(default_factory=Observability)
    security: SecurityBaseline = Field(default_factory=SecurityBaseline)
    data_protection: DataProtection = Field(default_factory=DataProtection)
    compliance: Compliance = Field(default_factory=Compliance)
    cost: Cost

    @model_validator(mode="before")
    @classmethod
    def _expand_stage_placeholder(cls, data: object) -> object:
        """`{stage}` in compute.domain_name and edge.domain_names -> the lower-cased stage
        name, so an environment file copied from another gets its own names without editing."""
        if not isinstance(data, Mapping) or not isinstance(data.get("stage_name"), str):
            return data
        stage = data["stage_name"].lower()
        expanded = dict(data)
        services = data.get("services")
        if isinstance(services, Mapping):
            expanded["services"] = {
                name: _expand_hosts(service, stage) for name, service in services.items()
            }
        compute, edge = data.get("compute"), data.get("edge")
        if isinstance(compute, Mapping) and isinstance(compute.get("domain_name"), str):
            domain = compute["domain_name"].replace("{stage}", stage)
            expanded["compute"] = {**compute, "domain_name": domain}
        if isinstance(edge, Mapping) and isinstance(edge.get("domain_names"), list | tuple):
            names = [
                n.replace("{stage}", stage) if isinstance(n, str) else n
                for n in edge["domain_names"]
            ]
            expanded["edge"] = {**edge, "domain_names": names}
        return expanded

    @model_validator(mode="after")
    def _services_fit(self) -> EnvironmentConfig:
        problems = check_services(
            self.services,
            migration_service=self.migration.service,
            origin_domain=self.compute.domain_name,
            zone_name=self.dns.zone_name,
            static_paths=self.edge.static.paths,
            storage=self.storage,
            has_pipeline=self.pipeline is not None,
        )
        problems += check_ec2_capacity(
            self.services,
            default_provider=self.compute.capacity_provider,
            ec2=self.compute.ec2,
            subnets=self.compute.subnets,
            nat=self.network.nat,
            endpoints=tuple(self.network.interface_endpoints),
        )
        if len(self.edge.domain_names) + len(self.extra_viewer_names) > MAX_VIEWER_NAMES:
            problems.append(
                FieldError(
                    "edge.domain_names",
                    f"with the services' hosts, the distribution would have more than "
                    f"{MAX_VIEWER_NAMES} names (the certificate's limit)",
                    cross_field=True,
                )
            )
        if problems:
            raise ManyFieldsError(problems)
        return self

    @property
    def extra_viewer_names(self) -> tuple[str, ...]:
        """Hosts of host-routed web services that are not already `edge.domain_names`."""
        names = [h for s in self.services.values() for h in s.hosts]
        return tuple(n for n in dict.fromkeys(names) if n not in self.edge.domain_names)

    @property
    def viewer_names(self) -> tuple[str, ...]:
        """Every name CloudFront answers to: `edge.domain_names`, then the services' hosts."""
        return (*self.edge.domain_names, *self.extra_viewer_names)

    @property
    def has_host_routes(self) -> bool:
        """Whether any web service is routed by host (CloudFront then passes the viewer's
        host to the load balancer in a header)."""
        return any(s.hosts for s in self.services.values())

    @property
    def default_service(self) -> str:
        """The web service that takes `/*`."""
        return next(n for n, s in self.services.items() if s.kind == "web" and s.default)

    def release_parameter_name(self, service: str) -> str:
        """SSM parameter recording the image tag the pipeline last released to `service`."""
        return f"/{self.stage_name}/release/{service}-image-tag"

    @property
    def namespace(self) -> str:
        """The Service Connect (Cloud Map HTTP) namespace."""
        return self.compute.service_connect_namespace or f"{self.stage_name.lower()}.internal"

    @model_validator(mode="after")
    def _pipeline_fits(self) -> EnvironmentConfig:
        pipeline = self.pipeline
        if pipeline is None:
            return self
        match = CONNECTION_ARN_RE.fullmatch(pipeline.connection_arn or "")
        if match and match.group(3) != self.account:
            raise FieldError(
                "pipeline.connection_arn",
                f"belongs to account {match.group(3)}, not this environment's {self.account}: "
                "a connection cannot be used from another account",
                cross_field=True,
            )
        for i, path in enumerate(pipeline.invalidation_paths):
            static = [p for p in self.edge.static.paths if cloudfront_path_matches(p, path)]
            if static:
                raise FieldError(
                    f"pipeline.invalidation_paths.{i}",
                    f"{path!r} is under the static path {static[0]!r}, whose files are "
                    "content-hashed and never change under the same name: list HTML paths",
                    cross_field=True,
                )
        return self

    @model_validator(mode="after")
    def _connections_limit_known(self) -> EnvironmentConfig:
        thresholds = self.observability.thresholds
        if thresholds.rds_max_connections is None:
            try:
                self.database.default_max_connections()
            except ValueError:
                raise FieldError(
                    "observability.thresholds.rds_max_connections",
                    f"is needed: the default max_connections of {self.database.instance_type!r}"
                    " is not known (set it, or add the class to RDS_INSTANCE_MEMORY_GIB in "
                    "l3_constructs/limits.py)",
                    cross_field=True,
                ) from None
        return self

    @model_validator(mode="after")
    def _database_fits(self) -> EnvironmentConfig:
        db, zones = self.database, self.network.availability_zones
        if db.read_replicas and db.multi_az and len(zones) < 3:
            raise FieldError(
                "database.read_replicas",
                "a Multi-AZ primary and its standby take both zones of "
                "network.availability_zones: replicas in other zones need a third zone "
                "(or multi_az false)",
                cross_field=True,
            )
        if db.backup and db.backup.copy_to_region == self.region:
            raise FieldError(
                "database.backup.copy_to_region",
                f"{self.region!r} is the environment's own region: a copy that survives the "
                "region needs another one",
                cross_field=True,
            )
        return self

    @model_validator(mode="after")
    def _tracing_can_reach_xray(self) -> EnvironmentConfig:
        if (
            self.observability.tracing
            and self.network.nat == "none"
            and self.compute.subnets == "private"
        ):
            raise FieldError(
                "observability.tracing",
                "needs internet egress (network.nat, or compute.subnets 'public'): the X-Ray "
                "daemon image and API are reached through it",
                cross_field=True,
            )
        return self

    @model_validator(mode="after")
    def _shared_key_serves_what_it_can(self) -> EnvironmentConfig:
        if self.data_protection.shared_key and self.database.proxy:
            raise FieldError(
                "data_protection.shared_key",
                "cannot serve an RDS Proxy (database.proxy): the proxy's role would have to "
                "be named in the policy of the Network stack's key, which the Database stack "
                "depends on; drop shared_key (the database keeps its own key) or the proxy",
                cross_field=True,
            )
        return self

    @model_validator(mode="after")
    def _real_data_is_protected(self) -> EnvironmentConfig:
        if not self.data_protection.holds_real_data:
            return self
        db, minimum = self.database, self.data_protection.min_backup_retention_days
        why = "data_protection.holds_real_data is true"
        checks = [
            ("database.deletion_protection", db.deletion_protection, "must be true"),
            (
                "database.removal_policy",
                db.removal_policy == "snapshot",
                f"must be 'snapshot' (a final snapshot on delete), not {db.removal_policy!r}",
            ),
            (
                "database.backup_retention_days",
                db.backup_retention_days >= minimum,
                f"must be at least {minimum} (data_protection.min_backup_retention_days)",
            ),
            (
                "edge.static.removal_policy",
                self.edge.static.removal_policy == "retain",
                "must be 'retain'",
            ),
            (
                "network.flow_logs.retain_on_delete",
                self.network.flow_logs.retain_on_delete,
                "must be true",
            ),
            (
                "storage.removal_policy",
                self.storage is None or self.storage.removal_policy == "retain",
                "must be 'retain'",
            ),
        ]
        for field, ok, rule in checks:
            if not ok:
                raise FieldError(field, f"{rule}: {why}", cross_field=True)
        return self

    @property
    def latest_image_tag(self) -> str:
        """The moving tag every pipeline build also pushes, e.g. `prod-latest`."""
        return f"{self.stage_name.lower()}-latest"

    @property
    def github_role_name(self) -> str | None:
        """Name of the GitHub Actions deploy role, when config asks for one."""
        if self.pipeline is None or self.pipeline.github_oidc is None:
            return None
        return self.pipeline.github_oidc.role_name or f"{self.stage_name}-github-deploy"

    @property
    def release_role_name(self) -> str | None:
        """Name of the GitHub Actions release role (`pipeline.provider: github_actions`)."""
        return self.pipeline.release_role_name(self.stage_name) if self.pipeline else None

    @model_validator(mode="after")
    def _region_priced(self) -> EnvironmentConfig:
        check_region_priced(self.region)
        return self

    @model_validator(mode="after")
    def _zones_in_region(self) -> EnvironmentConfig:
        for zone in self.network.availability_zones:
            if not re.fullmatch(re.escape(self.region) + "[a-z]", zone):
                raise FieldError(
                    "network.availability_zones",
                    f"{zone!r} is not a zone of region {self.region!r}",
                    cross_field=True,
                )
        domain, zone = self.compute.domain_name, self.dns.zone_name
        if not domain.endswith(f".{zone}"):
            raise FieldError(
                "compute.domain_name",
                f"{domain!r} is not inside the hosted zone {zone!r}",
                cross_field=True,
            )
        for i, name in enumerate(self.edge.domain_names):
            if not name.endswith(f".{zone}"):
                raise FieldError(
                    f"edge.domain_names.{i}",
                    f"{name!r} is not inside the hosted zone {zone!r}",
                    cross_field=True,
                )
            if name == domain:
                raise FieldError(
                    f"edge.domain_names.{i}",
                    f"{name!r} is compute.domain_name, the origin's own name; viewers and "
                    "CloudFront need different names",
                    cross_field=True,
                )
        nat, subnets = self.network.nat, self.compute.subnets
        if subnets == "public" and nat != "none":
            raise FieldError(
                "compute.subnets",
                f"'public' is for network.nat 'none'; with nat {nat!r} tasks belong in "
                "'private' subnets",
                cross_field=True,
            )
        missing = [e for e in NO_NAT_TASK_ENDPOINTS if e not in self.network.interface_endpoints]
        if nat == "none" and subnets == "private" and missing:
            raise FieldError(
                "network.interface_endpoints",
                f"must include {', '.join(missing)}: tasks in private subnets without NAT "
                "pull images, write logs and read secrets only through them",
                cross_field=True,
            )
        if (
            self.network.nat == "none"
            and "secretsmanager" not in self.network.interface_endpoints
            and self.database.credentials == "rotated_by_lambda"
        ):
            raise FieldError(
                "network.interface_endpoints",
                "must include 'secretsmanager' when nat is 'none': the password-rotation "
                "function has no other way to reach Secrets Manager",
                cross_field=True,
            )
        return self


#: Names on one distribution: ACM's default of 10 names per certificate.
MAX_VIEWER_NAMES = 10


def _expand_hosts(service: object, stage: str) -> object:
    if isinstance(service, Mapping) and isinstance(service.get("hosts"), list | tuple):
        hosts = [h.replace("{stage}", stage) if isinstance(h, str) else h for h in service["hosts"]]
        return {**service, "hosts": hosts}
    return service
