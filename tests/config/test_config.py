"""The config loader and models, without synthesizing anything.

Every malformed case copies the shipped `config/*.yaml` into a temporary directory, changes
one file and checks the exact problem line(s) a person would see (`config error: <line>`
from `app.py`), so a regression in the file, the field path or the message fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.loader import LoadedEnvironment, deep_merge, load_environments
from config.models import EnvironmentConfig
from tests.config.helpers import (
    REPO_ROOT,
    SHIPPED_CONFIG,
    TEST_AS_INSTANCE,
    Mutation,
    combine,
    drop,
    edit_yaml,
    problems_of,
    put,
    read_yaml,
    write_yaml,
)

ALLOWED_TOP = (
    "allowed: stage_name, account, region, termination_protection, tags, network, database, "
    "dns, compute, services, storage, migration, edge, pipeline, observability, security, "
    "data_protection, compliance, cost"
)
ALLOWED_NETWORK = (
    "allowed: cidr, availability_zones, nat, subnet_masks, interface_endpoints, flow_logs"
)
TAG_VALUE_RULE = "is not a valid tag value (1-256 letters, digits, spaces and _ . : / = + - @)"
RETENTIONS = (
    "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, "
    "2557, 2922, 3288, 3653"
)
MISSING_IN_EMPTY_FILE = (
    "config/prod.yaml: stage_name: required setting is missing",
    "config/prod.yaml: account: required setting is missing",
    "config/prod.yaml: tags.environment: required setting is missing",
    "config/prod.yaml: network.cidr: required setting is missing",
    "config/defaults.yaml (as used by config/prod.yaml): compute.domain_name: "
    "'origin-{stage}.example.com' uses {stage}, which needs a valid stage_name",
    "config/defaults.yaml (as used by config/prod.yaml): edge.domain_names[0]: "
    "'app-{stage}.example.com' uses {stage}, which needs a valid stage_name",
    "config/defaults.yaml (as used by config/prod.yaml): edge.domain_names[1]: "
    "'api-{stage}.example.com' uses {stage}, which needs a valid stage_name",
    "config/prod.yaml: pipeline.connection_arn: required with provider 'codepipeline': the "
    "GitHub connection its source action uses",
    "config/prod.yaml: cost.budget_usd: required setting is missing",
)


def by_stage(environments: tuple[LoadedEnvironment, ...]) -> dict[str, EnvironmentConfig]:
    return {env.config.stage_name: env.config for env in environments}


# --------------------------------------------------------------------------- shipped configs


def test_shipped_configs_validate() -> None:
    environments = load_environments(SHIPPED_CONFIG)
    configs = by_stage(environments)
    assert set(configs) == {"Test", "Stage", "Prod"}
    assert len(environments) == 3
    assert {env.path.name for env in environments} == {"test.yaml", "stage.yaml", "prod.yaml"}

    prod = configs["Prod"]
    assert prod.network.nat == "per_az"
    assert prod.network.availability_zones == (
        "ap-northeast-1a",
        "ap-northeast-1c",
        "ap-northeast-1d",
    )
    assert prod.termination_protection is True
    assert prod.network.flow_logs.retention_days == 365
    assert prod.network.flow_logs.destination == "cloudwatch"  # from defaults

    test = configs["Test"]
    assert test.network.nat == "none"
    assert len(test.network.availability_zones) == 2
    assert test.network.flow_logs.destination == "s3"
    assert test.network.flow_logs.retain_on_delete is False
    assert test.termination_protection is False


def test_shipped_edge_settings() -> None:
    configs = by_stage(load_environments(SHIPPED_CONFIG))
    prod, stage, test = configs["Prod"].edge, configs["Stage"].edge, configs["Test"].edge
    assert prod.domain_names == ("app.example.com", "api.example.com")
    # `{stage}` in the defaults: every other environment gets names of its own.
    assert stage.domain_names == ("app-stage.example.com", "api-stage.example.com")
    assert test.domain_names == ("app-test.example.com", "api-test.example.com")
    for edge in (prod, stage, test):
        assert edge.price_class == "200"
        assert edge.static.paths == ("/_next/static/*",)
        assert edge.static.cache.default_seconds == 31_536_000
        assert edge.default.cache.default_seconds == 0
        assert edge.waf.rate_limit == 2000
        assert edge.api.forwarded_headers is None  # every viewer header except Host
    assert prod.static.removal_policy == "retain"
    assert test.static.removal_policy == "destroy"
    assert (prod.access_logs.destination, test.access_logs.destination) == ("s3", "cloudwatch")

    assert configs["Stage"].network.nat == "single"
    assert len({c.network.cidr for c in configs.values()}) == 3


def test_shipped_pipeline_settings() -> None:
    configs = by_stage(load_environments(SHIPPED_CONFIG))
    pipelines = {name: c.pipeline for name, c in configs.items()}
    assert all(p is not None for p in pipelines.values())
    prod, stage, test = (pipelines[n] for n in ("Prod", "Stage", "Test"))
    assert prod is not None
    assert stage is not None
    assert test is not None
    assert (test.branch, stage.branch, prod.branch) == ("develop", "develop", "main")
    # Only Prod waits for a person before its migration runs.
    assert (test.approval, stage.approval) == (None, None)
    assert prod.approval is not None
    assert prod.approval.emails == ("release-approvers@example.com",)
    for name, pipeline in pipelines.items():
        assert pipeline is not None
        if pipeline.provider == "codepipeline":
            assert pipeline.connection_arn is not None
            assert f":{configs[name].account}:" in pipeline.connection_arn
        else:
            assert pipeline.connection_arn is None
        # Static assets are content-hashed: only HTML is invalidated.
        assert pipeline.invalidation_paths == ("/",)
        # The smoke test and canary call each web service's health path.
        services = configs[name].services
        assert services["api"].health_check.path == "/api/health"
        assert services["web"].health_check.path == "/healthz"
        assert configs[name].latest_image_tag == f"{name.lower()}-latest"
        # The API keeps the release record of the single-service layout.
        assert configs[name].release_parameter_name("api") == f"/{name}/release/api-image-tag"
        assert configs[name].release_parameter_name("web") == f"/{name}/release/web-image-tag"
    assert (test.build.cache, prod.build.cache) == ("local", "s3")
    # GitHub Actions releases Test and Stage, each from its GitHub environment; CodePipeline
    # releases Prod, with its approval.
    assert (test.provider, stage.provider, prod.provider) == (
        "github_actions",
        "github_actions",
        "codepipeline",
    )
    assert test.github_actions is not None
    assert stage.github_actions is not None
    assert (test.github_actions.environment, stage.github_actions.environment) == ("test", "stage")
    assert {test.github_actions.trust, stage.github_actions.trust} == {"environment"}
    assert prod.github_actions is None
    assert configs["Test"].release_role_name == "Test-github-release"
    assert configs["Stage"].release_role_name == "Stage-github-release"
    assert configs["Prod"].release_role_name is None
    # GitHub Actions may deploy Stage and Prod (each its own account and OIDC provider).
    assert test.github_oidc is None
    assert configs["Test"].github_role_name is None
    for name in ("Stage", "Prod"):
        oidc = pipelines[name].github_oidc  # type: ignore[union-attr]
        assert oidc is not None
        assert oidc.create_provider
        assert configs[name].github_role_name == f"{name}-github-deploy"


def test_shipped_observability_security_and_data_protection() -> None:
    configs = by_stage(load_environments(SHIPPED_CONFIG))
    for name, config in configs.items():
        t = config.observability.thresholds
        assert (t.ecs_cpu_percent, t.ecs_memory_percent, t.rds_cpu_percent) == (80, 80, 80)
        assert (t.alb_5xx_per_5_minutes, t.response_time_p95_ms, t.unhealthy_targets) == (
            10,
            1000,
            0,
        )
        assert (t.rds_connections_percent, t.rds_free_storage_gb) == (80, 5)
        assert config.observability.canary.enabled
        # Fitted to the budgets (issue: cost): every 30 minutes in Prod, hourly in Stage,
        # every 3 hours in Test (a UTC cron; issue 15).
        assert config.observability.canary.interval_minutes == {"Prod": 30, "Test": 180}.get(
            name, 60
        )
        assert config.observability.dashboard is (name != "Test")
        assert config.compute.container_insights == {"Prod": "enabled"}.get(name, "disabled")
        # Interface endpoints only where their absence would break something: none
        # (Stage and Prod reach AWS through NAT; Test's tasks have public IPs and its
        # database credentials are RDS-managed, so no rotation function needs one).
        assert config.network.interface_endpoints == ()
        assert config.observability.alarm_emails == ("platform-team@example.com",)
        # Tracing and the security baseline: Stage and Prod.
        on = name in ("Stage", "Prod")
        assert config.observability.tracing is on
        security = config.security
        assert (security.guardduty, security.config_recorder, security.cloudtrail) == (on,) * 3
        # Only Prod holds real data.
        assert config.data_protection.holds_real_data is (name == "Prod")
        assert config.compliance.extra_packs == ()


def test_pipeline_null_removes_the_pipeline(config_dir: Path) -> None:
    edit_yaml(config_dir / "test.yaml", put("pipeline", None))
    configs = by_stage(load_environments(config_dir))
    assert configs["Test"].pipeline is None
    assert configs["Test"].github_role_name is None
    assert configs["Prod"].pipeline is not None


def test_default_config_dir_is_the_shipped_one() -> None:
    assert by_stage(load_environments()) == by_stage(load_environments(SHIPPED_CONFIG))


# --------------------------------------------------------------------------- malformed configs


@dataclass(frozen=True)
class Case:
    """One malformed config: `file` gets `change` (a YAML edit) or `text` (raw content).

    Expected: `exact` is the whole tuple of problem lines; otherwise exactly one line that
    starts with `prefix` and contains `fragment` (for messages whose wording is pydantic's).
    """

    file: str
    change: Mutation | None = None
    text: str | None = None
    exact: tuple[str, ...] = ()
    prefix: str = ""
    fragment: str = ""


def case(
    id_: str,
    file: str,
    change: Mutation | str,
    *exact: str,
    prefix: str = "",
    fragment: str = "",
) -> Any:
    """A `pytest.param` of one `Case`; a `str` change is the file's new raw text."""
    if isinstance(change, str):
        bad = Case(file, text=change, exact=exact, prefix=prefix, fragment=fragment)
    else:
        bad = Case(file, change=change, exact=exact, prefix=prefix, fragment=fragment)
    assert bool(exact) != bool(prefix and fragment), f"{id_}: give exact lines or prefix+fragment"
    return pytest.param(bad, id=id_)


DEFAULTS_FOR = "config/defaults.yaml (as used by config/{})"

#: Workloads (issue 11): every rule over `services`, each named by file and field.
SERVICE_CASES = [
    case(
        "migration-service-unknown",
        "prod.yaml",
        put("migration.service", "backend"),
        "config/prod.yaml: migration.service: 'backend' is not a service of this environment "
        "(api, cleanup, web, worker)",
    ),
    case(
        "migration-service-without-database",
        "prod.yaml",
        put("migration.service", "web"),
        "config/prod.yaml: migration.service: 'web' must say `database: true`: the migration "
        "runs with its image and database credentials",
    ),
    case(
        "connects-to-unknown-service",
        "prod.yaml",
        put("services.web.connects_to", ["api", "search"]),
        "config/prod.yaml: services.web.connects_to[1]: 'search' is not a service",
    ),
    case(
        "two-services-claim-one-path",
        "prod.yaml",
        put(
            "services.admin",
            {
                "kind": "web",
                "image": {"directory": "services/web"},
                "paths": ["/api/*"],
                "health_check": {"path": "/api/admin"},
            },
        ),
        "config/prod.yaml: services.admin.paths: '/api/*' is claimed by 'api' too",
    ),
    case(
        "two-services-claim-one-host",
        "prod.yaml",
        combine(
            put(
                "services.admin",
                {
                    "kind": "web",
                    "image": {"directory": "services/web"},
                    "hosts": ["admin.example.com"],
                },
            ),
            put(
                "services.back-office",
                {
                    "kind": "web",
                    "image": {"directory": "services/web"},
                    "hosts": ["admin.example.com"],
                },
            ),
        ),
        "config/prod.yaml: services.back-office.hosts: 'admin.example.com' is claimed by "
        "'admin' too",
    ),
    case(
        "no-default-web-service",
        "prod.yaml",
        put("services.web.default", False),
        "config/prod.yaml: services.web.paths: a web service needs `paths`, `hosts` or "
        "`default: true`",
    ),
    case(
        "no-default-web-service-at-all",
        "prod.yaml",
        combine(
            put("services.web.default", False),
            put("services.web.paths", ["/app/*"]),
            put("services.web.health_check.path", "/app/healthz"),
        ),
        "config/prod.yaml: services: no web service is the default (`default: true` on "
        "exactly one)",
    ),
    case(
        "two-default-web-services",
        "prod.yaml",
        combine(put("services.api.default", True), put("services.api.paths", [])),
        "config/prod.yaml: services.web.default (set in config/defaults.yaml): 'api' is the "
        "default web service already; only one takes `/*`",
    ),
    case(
        "backend-with-paths",
        "prod.yaml",
        put(
            "services.jobs",
            {"kind": "backend", "image": {"directory": "services/api"}, "paths": ["/jobs/*"]},
        ),
        "config/prod.yaml: services.jobs.paths: is for web services; a backend has no load "
        "balancer route (others reach it through Service Connect)",
    ),
    case(
        "backend-with-hosts",
        "prod.yaml",
        put(
            "services.jobs",
            {
                "kind": "backend",
                "image": {"directory": "services/api"},
                "hosts": ["jobs.example.com"],
            },
        ),
        "config/prod.yaml: services.jobs.hosts: is for web services; a backend has no load "
        "balancer route (others reach it through Service Connect)",
    ),
    case(
        "path-not-starting-with-slash",
        "prod.yaml",
        put("services.api.paths", ["api/*"]),
        "config/prod.yaml: services.api.paths[0]: 'api/*' is not an ALB path pattern like '/api/*'",
    ),
    case(
        "host-outside-the-zone",
        "prod.yaml",
        put(
            "services.admin",
            {"kind": "web", "image": {"directory": "services/web"}, "hosts": ["admin.example.org"]},
        ),
        "config/prod.yaml: services.admin.hosts[0]: 'admin.example.org' is not inside the "
        "hosted zone 'example.com'",
    ),
    case(
        "host-is-the-origin",
        "prod.yaml",
        put(
            "services.admin",
            {
                "kind": "web",
                "image": {"directory": "services/web"},
                "hosts": ["origin.example.com"],
            },
        ),
        "config/prod.yaml: services.admin.hosts[0]: 'origin.example.com' is compute.domain_name, "
        "the origin's own name; viewers use CloudFront's names",
    ),
    case(
        "environment-variable-looks-secret",
        "prod.yaml",
        put("services.api.environment", {"STRIPE_API_KEY": "sk_live_x"}),
        "config/prod.yaml: services.api.environment.STRIPE_API_KEY: looks like a secret: put "
        "it in `secrets` (Secrets Manager or SSM), never in plain environment variables",
    ),
    case(
        "environment-variable-password",
        "prod.yaml",
        put("services.web.environment", {"SMTP_PASSWORD": "hunter2"}),
        "config/prod.yaml: services.web.environment.SMTP_PASSWORD: looks like a secret: put "
        "it in `secrets` (Secrets Manager or SSM), never in plain environment variables",
    ),
    case(
        "service-connect-variable-clash",
        "prod.yaml",
        put("services.web.environment", {"API_URL": "http://elsewhere"}),
        "config/prod.yaml: services.web.environment.API_URL: is set by the platform for this "
        "service (database, storage, Service Connect, queues or port): choose another name",
    ),
    case(
        "service-name-not-a-dns-label",
        "prod.yaml",
        put(
            "services.Admin_UI",
            {"kind": "web", "image": {"directory": "services/web"}, "hosts": ["admin.example.com"]},
        ),
        "config/prod.yaml: services.Admin_UI.[key]: 'Admin_UI' is not a lower-case DNS label "
        "of at most 32 characters",
    ),
    case(
        "secret-with-both-sources",
        "prod.yaml",
        put("services.api.secrets", {"TOKEN": {"secrets_manager": "a", "ssm": "/b"}}),
        "config/prod.yaml: services.api.secrets.TOKEN.secrets_manager: name exactly one of "
        "`secrets_manager` or `ssm`",
    ),
    case(
        "ssm-secret-created",
        "prod.yaml",
        put("services.api.secrets", {"TOKEN": {"ssm": "/app/token", "create": True}}),
        "config/prod.yaml: services.api.secrets.TOKEN.create: CloudFormation cannot create "
        "SecureString parameters: create it once with `aws ssm put-parameter --type "
        "SecureString` (README), or use secrets_manager",
    ),
    case(
        "storage-without-storage-section",
        "prod.yaml",
        put("services.api.storage", "read_write"),
        "config/prod.yaml: services.api.storage: 'read_write' needs the `storage` section",
    ),
    case(
        "storage-destroyed-with-real-data",
        "prod.yaml",
        put("storage", {"removal_policy": "destroy"}),
        "config/prod.yaml: storage.removal_policy: must be 'retain': "
        "data_protection.holds_real_data is true",
    ),
    case(
        "static-prefix-not-served",
        "prod.yaml",
        put("services.web.static.prefix", "assets"),
        "config/prod.yaml: services.web.static.prefix: '/assets/*' is not served from the "
        "static bucket (edge.static.paths: /_next/static/*)",
    ),
    case(
        "static-from-image-without-pipeline",
        "prod.yaml",
        combine(
            put("pipeline", None),
            put("services.web.static", {"from_image": "/app/static", "directory": None}),
        ),
        "config/prod.yaml: services.web.static.directory: is needed without a pipeline: `cdk "
        "deploy` publishes a directory, it cannot copy files out of an image",
    ),
    case(
        "too-many-route-values",
        "prod.yaml",
        put("services.api.paths", ["/a/*", "/b/*", "/c/*", "/d/*", "/api/*"]),
        "config/prod.yaml: services.api.paths: paths and hosts together may list at most 4 "
        "values (an ALB rule takes five, one of them the origin-verify header)",
    ),
    case(
        "health-check-outside-paths",
        "prod.yaml",
        put("services.api.health_check.path", "/healthz"),
        "config/prod.yaml: services.api.health_check.path: '/healthz' is not under the "
        "service's paths (/api/*): the smoke test and canary reach it through them",
    ),
    case(
        "moved-compute-setting",
        "prod.yaml",
        put("compute.cpu", 1024),
        "config/prod.yaml: compute.cpu: moved to services.<name>.cpu: each service has its own "
        "(README 'Upgrading from one service')",
    ),
    case(
        "blue-green-backend",
        "prod.yaml",
        put(
            "services.jobs",
            {
                "kind": "backend",
                "image": {"directory": "services/api"},
                "deployment": {"strategy": "blue_green"},
            },
        ),
        "config/prod.yaml: services.jobs.deployment.strategy: blue_green shifts a load "
        "balancer rule; a backend has none: use rolling",
    ),
    # ---- background work (issue 12): workers and jobs
    case(
        "schedule-not-cron-or-rate",
        "prod.yaml",
        put("services.cleanup.schedule", "every night"),
        "config/prod.yaml: services.cleanup.schedule: 'every night' is not a schedule: "
        "'cron(...)' or 'rate(...)'",
    ),
    case(
        "schedule-cron-five-fields",
        "prod.yaml",
        put("services.cleanup.schedule", "cron(0 3 * * *)"),
        "config/prod.yaml: services.cleanup.schedule: 'cron(0 3 * * *)' is not a valid cron "
        "expression: six fields, minutes hours day-of-month month day-of-week year, one of the "
        "two days '?' (e.g. 'cron(0 3 * * ? *)')",
    ),
    case(
        "schedule-cron-both-days",
        "prod.yaml",
        put("services.cleanup.schedule", "cron(0 3 1 * MON *)"),
        "config/prod.yaml: services.cleanup.schedule: 'cron(0 3 1 * MON *)' is not a valid "
        "cron expression: six fields, minutes hours day-of-month month day-of-week year, one "
        "of the two days '?' (e.g. 'cron(0 3 * * ? *)')",
    ),
    case(
        "schedule-rate-plural-one",
        "prod.yaml",
        put("services.cleanup.schedule", "rate(1 hours)"),
        "config/prod.yaml: services.cleanup.schedule: 'rate(1 hours)' is not a valid rate: "
        "'rate(1 hour)', 'rate(5 minutes)' (n >= 1, singular unit for 1)",
    ),
    case(
        "unknown-time-zone",
        "prod.yaml",
        put("services.cleanup.timezone", "Asia/Osaka"),
        "config/prod.yaml: services.cleanup.timezone: 'Asia/Osaka' is not an IANA time zone "
        "(e.g. 'Asia/Tokyo', 'UTC')",
    ),
    case(
        "worker-with-paths",
        "prod.yaml",
        put("services.worker.paths", ["/jobs/*"]),
        "config/prod.yaml: services.worker.paths: is for web services; a worker has no load "
        "balancer route (others reach it through its queue: `publishes_to`)",
    ),
    case(
        "worker-with-hosts",
        "prod.yaml",
        put("services.worker.hosts", ["worker.example.com"]),
        "config/prod.yaml: services.worker.hosts: is for web services; a worker has no load "
        "balancer route (others reach it through its queue: `publishes_to`)",
    ),
    case(
        "publishes-to-a-web-service",
        "prod.yaml",
        put("services.api.publishes_to", ["worker", "web"]),
        "config/prod.yaml: services.api.publishes_to[1]: 'web' is a web; `publishes_to` names "
        "workers (their queues)",
    ),
    case(
        "publishes-to-nothing",
        "prod.yaml",
        put("services.api.publishes_to", ["mailer"]),
        "config/prod.yaml: services.api.publishes_to[0]: 'mailer' is not a service; "
        "`publishes_to` names workers (their queues)",
    ),
    case(
        "job-with-capacity",
        "prod.yaml",
        put("services.cleanup.capacity", {"min": 1, "desired": 1, "max": 2}),
        "config/prod.yaml: services.cleanup.capacity: is not a setting of a job (only of web "
        "and backend and worker): a job runs one task per schedule",
    ),
    case(
        "job-with-scaling",
        "prod.yaml",
        put("services.cleanup.scaling", {"cpu_target_percent": 50}),
        "config/prod.yaml: services.cleanup.scaling: is not a setting of a job (only of web "
        "and backend and worker): a job runs one task per schedule",
    ),
    case(
        "job-without-schedule",
        "prod.yaml",
        put("services.report", {"kind": "job", "image": {"directory": "services/api"}}),
        "config/prod.yaml: services.report.schedule: a job needs a schedule: 'cron(...)' or "
        "'rate(...)'",
    ),
    case(
        "schedule-on-a-web-service",
        "prod.yaml",
        put("services.api.schedule", "rate(1 day)"),
        "config/prod.yaml: services.api.schedule: is not a setting of a web (only of job)",
    ),
    case(
        "visibility-shorter-than-stop-timeout",
        "prod.yaml",
        put("services.worker.queue.visibility_timeout_seconds", 30),
        "config/prod.yaml: services.worker.queue.visibility_timeout_seconds: 30 is shorter "
        "than stop_timeout_seconds 60: a message in flight when the task stops would be "
        "delivered twice at once",
    ),
    case(
        "connects-to-a-worker",
        "prod.yaml",
        put("services.web.connects_to", ["api", "worker"]),
        "config/prod.yaml: services.web.connects_to[1]: 'worker' is a worker, which serves no "
        "requests: publish to its queue (`publishes_to`)",
    ),
    case(
        "migration-on-a-job",
        "prod.yaml",
        put("migration.service", "cleanup"),
        "config/prod.yaml: migration.service: 'cleanup' is a job: the migration runs before a "
        "service's update",
    ),
    case(
        "queue-variable-clash",
        "prod.yaml",
        put("services.api.environment", {"WORKER_QUEUE_URL": "x"}),
        "config/prod.yaml: services.api.environment.WORKER_QUEUE_URL: is set by the platform "
        "for this service (database, storage, Service Connect, queues or port): choose "
        "another name",
    ),
    # ---- capacity and hardening (issue 13, part)
    case(
        "spot-weights-add-to-zero",
        "test.yaml",
        put("compute.spot_mix", {"fargate_base": 1, "fargate_weight": 0, "spot_weight": 0}),
        "config/test.yaml: compute.spot_mix.spot_weight: fargate_weight and spot_weight add "
        "to zero: ECS would place no task beyond the base",
    ),
    case(
        "unknown-capacity-provider",
        "prod.yaml",
        put("compute.capacity_provider", "spot"),
        prefix="config/prod.yaml: compute.capacity_provider: 'spot': ",
        fragment="'fargate', 'fargate_spot' or 'ec2'",
    ),
    case(
        "capacity-provider-on-a-job",
        "prod.yaml",
        put("services.cleanup.capacity_provider", "fargate_spot"),
        "config/prod.yaml: services.cleanup.capacity_provider: is not a setting of a job (only "
        "of web and backend and worker): a job runs one task per schedule",
    ),
    case(
        "canary-on-a-worker",
        "prod.yaml",
        put("services.worker.deployment", {"strategy": "canary"}),
        "config/prod.yaml: services.worker.deployment.strategy: canary shifts a load balancer "
        "rule; a worker has none: use rolling",
    ),
    case(
        "container-user-root",
        "prod.yaml",
        put("services.api.user", "0:0"),
        "config/prod.yaml: services.api.user: '0:0' is not a non-root user like '10001:10001'",
    ),
    case(
        "container-user-root-by-name",
        "prod.yaml",
        put("services.api.user", "root"),
        "config/prod.yaml: services.api.user: 'root' is not a non-root user like '10001:10001'",
    ),
    case(
        "writable-path-relative",
        "prod.yaml",
        put("services.web.writable_paths", ["tmp"]),
        "config/prod.yaml: services.web.writable_paths[0]: 'tmp' is not an absolute path",
    ),
    case(
        "capability-unknown",
        "prod.yaml",
        put("services.api.add_capabilities", ["SYS_ADMIN"]),
        prefix="config/prod.yaml: services.api.add_capabilities[0]: 'SYS_ADMIN': ",
        fragment="'SYS_PTRACE'",
    ),
    case(
        "desync-mode-unknown",
        "prod.yaml",
        put("compute.load_balancer_desync_mode", "monitor"),
        prefix="config/prod.yaml: compute.load_balancer_desync_mode: 'monitor': ",
        fragment="'defensive' or 'strictest'",
    ),
    case(
        "services-removed-entirely",
        "prod.yaml",
        combine(
            put("services.web", None),
            put("services.api", None),
            put("services.worker", None),
            put("services.cleanup", None),
        ),
        "config/prod.yaml: services: lists 0 services; an environment runs 1-20",
    ),
]

CASES = [
    # ---- network.cidr
    case(
        "cidr-prefix-33",
        "prod.yaml",
        put("network.cidr", "10.0.0.0/33"),
        "config/prod.yaml: network.cidr: '10.0.0.0/33' is not a valid IPv4 network",
    ),
    case(
        "cidr-host-bits",
        "prod.yaml",
        put("network.cidr", "10.30.0.1/16"),
        "config/prod.yaml: network.cidr: '10.30.0.1/16' has host bits set; "
        "the network is '10.30.0.0/16'",
    ),
    case(
        "cidr-ipv6",
        "prod.yaml",
        put("network.cidr", "fd00::/56"),
        "config/prod.yaml: network.cidr: 'fd00::/56' is not a valid IPv4 network",
    ),
    case(
        "cidr-too-big",
        "prod.yaml",
        put("network.cidr", "10.0.0.0/8"),
        "config/prod.yaml: network.cidr: '10.0.0.0/8' is a /8; a VPC CIDR must be /16 to /24",
    ),
    case(
        "cidr-too-small",
        "prod.yaml",
        put("network.cidr", "10.30.0.0/26"),
        "config/prod.yaml: network.cidr: '10.30.0.0/26' is a /26; a VPC CIDR must be /16 to /24",
    ),
    case(
        "cidr-overlaps-earlier-file",
        "stage.yaml",
        put("network.cidr", "10.30.128.0/17"),
        "config/stage.yaml: network.cidr: '10.30.128.0/17' overlaps '10.30.0.0/16' "
        "of config/prod.yaml",
    ),
    case(
        "cidr-equal-to-later-file",
        "prod.yaml",
        put("network.cidr", "10.10.0.0/16"),
        "config/test.yaml: network.cidr: '10.10.0.0/16' overlaps '10.10.0.0/16' "
        "of config/prod.yaml",
    ),
    # ---- stage_name
    case(
        "stage-name-duplicate",
        "stage.yaml",
        put("stage_name", "Prod"),
        "config/stage.yaml: stage_name: 'Prod' clashes with stage 'Prod' of config/prod.yaml",
    ),
    case(
        "stage-name-lowercase",
        "prod.yaml",
        put("stage_name", "prod"),
        "config/prod.yaml: stage_name: 'prod' is not a valid stage name "
        "(a capital letter, then letters and digits, at most 32 characters)",
    ),
    case(
        "stage-name-integer",
        "prod.yaml",
        put("stage_name", 7),
        prefix="config/prod.yaml: stage_name: 7: ",
        fragment='quote it in YAML ("7")',
    ),
    # ---- unknown / missing keys
    case(
        "unknown-top-level-key",
        "prod.yaml",
        put("vpc_name", "main"),
        f"config/prod.yaml: vpc_name: unknown key ({ALLOWED_TOP})",
    ),
    case(
        "unknown-nested-key",
        "prod.yaml",
        put("network.nat_gateways", 3),
        f"config/prod.yaml: network.nat_gateways: unknown key ({ALLOWED_NETWORK})",
    ),
    case(
        "unknown-deeply-nested-key",
        "test.yaml",
        put("network.flow_logs.bucket_name", "logs"),
        "config/test.yaml: network.flow_logs.bucket_name: unknown key "
        "(allowed: destination, retention_days, traffic_type, retain_on_delete)",
    ),
    case(
        "missing-account",
        "prod.yaml",
        drop("account"),
        "config/prod.yaml: account: required setting is missing",
    ),
    case(
        "missing-cidr",
        "stage.yaml",
        drop("network.cidr"),
        "config/stage.yaml: network.cidr: required setting is missing",
    ),
    # ---- account / region
    case(
        "account-11-digits",
        "prod.yaml",
        put("account", "33333333333"),
        "config/prod.yaml: account: '33333333333' is not an AWS account id (12 digits)",
    ),
    case(
        "account-yaml-integer",
        "prod.yaml",
        put("account", 333333333333),
        prefix="config/prod.yaml: account: 333333333333: ",
        fragment='must be a string; quote it in YAML ("333333333333")',
    ),
    case(
        "region-bad",
        "prod.yaml",
        put("region", "tokyo"),
        "config/prod.yaml: region: 'tokyo' is not an AWS region name (e.g. 'ap-northeast-1')",
    ),
    # ---- availability zones
    case(
        "az-count-1",
        "prod.yaml",
        put("network.availability_zones", ["ap-northeast-1a"]),
        "config/prod.yaml: network.availability_zones: lists 1 zone(s); the platform spans 2 or 3",
    ),
    case(
        "az-count-4",
        "prod.yaml",
        put(
            "network.availability_zones",
            ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d", "ap-northeast-1b"],
        ),
        "config/prod.yaml: network.availability_zones: lists 4 zone(s); the platform spans 2 or 3",
    ),
    case(
        "az-duplicate",
        "prod.yaml",
        put(
            "network.availability_zones", ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1a"]
        ),
        "config/prod.yaml: network.availability_zones: lists a zone twice: "
        "['ap-northeast-1a', 'ap-northeast-1c', 'ap-northeast-1a']",
    ),
    case(
        "az-not-in-region",
        "prod.yaml",
        put("network.availability_zones", ["ap-northeast-1a", "us-east-1a"]),
        "config/prod.yaml: network.availability_zones: 'us-east-1a' is not a zone of region "
        "'ap-northeast-1'",
    ),
    case(
        "az-given-as-string",
        "prod.yaml",
        put("network.availability_zones", "ap-northeast-1a"),
        prefix="config/prod.yaml: network.availability_zones: 'ap-northeast-1a': ",
        fragment="valid tuple",
    ),
    # ---- nat / endpoints
    case(
        "nat-invalid",
        "prod.yaml",
        put("network.nat", "many"),
        prefix="config/prod.yaml: network.nat: 'many': ",
        fragment="'none', 'single' or 'per_az'",
    ),
    case(
        "interface-endpoint-not-allowed",
        "prod.yaml",
        put("network.interface_endpoints", ["ecr.api", "s3"]),
        prefix="config/prod.yaml: network.interface_endpoints[1]: 's3': ",
        fragment="'ecr.api', 'ecr.dkr', 'logs'",
    ),
    case(
        "interface-endpoint-duplicate",
        "prod.yaml",
        put("network.interface_endpoints", ["logs", "ssm", "logs"]),
        "config/prod.yaml: network.interface_endpoints: lists an endpoint twice",
    ),
    # ---- subnet masks
    case(
        "subnet-masks-too-large-for-vpc",
        "prod.yaml",
        combine(put("network.cidr", "10.30.0.0/20"), put("network.subnet_masks.private", 21)),
        "config/prod.yaml: network.subnet_masks: need 7680 addresses over 3 zones; "
        "the VPC CIDR 10.30.0.0/20 has 4096",
    ),
    case(
        "subnet-mask-wider-than-vpc",
        "prod.yaml",
        combine(
            put("network.cidr", "10.30.0.0/24"),
            put("network.subnet_masks", {"public": 20, "private": 24, "isolated": 24}),
        ),
        "config/prod.yaml: network.subnet_masks: public /20 is wider than the VPC CIDR "
        "10.30.0.0/24",
    ),
    case(
        "subnet-mask-out-of-range",
        "prod.yaml",
        put("network.subnet_masks.public", 29),
        prefix="config/prod.yaml: network.subnet_masks.public: 29: ",
        fragment="less than or equal to 28",
    ),
    case(
        "subnet-mask-as-string",
        "prod.yaml",
        put("network.subnet_masks.public", "24"),
        prefix="config/prod.yaml: network.subnet_masks.public: '24': ",
        fragment="valid integer",
    ),
    # ---- flow logs
    case(
        "flow-log-retention-45",
        "prod.yaml",
        put("network.flow_logs.retention_days", 45),
        "config/prod.yaml: network.flow_logs.retention_days: 45 is not a CloudWatch Logs "
        f"retention period (days: {RETENTIONS})",
    ),
    case(
        "flow-log-traffic-type-lowercase",
        "prod.yaml",
        put("network.flow_logs.traffic_type", "all"),
        prefix="config/prod.yaml: network.flow_logs.traffic_type: 'all': ",
        fragment="'ALL', 'ACCEPT' or 'REJECT'",
    ),
    # ---- tags
    case(
        "owner-not-email",
        "prod.yaml",
        put("tags.owner", "platform-team"),
        prefix="config/prod.yaml: tags.owner: 'platform-team': ",
        fragment="not a valid email address",
    ),
    case(
        "tag-value-bad-character",
        "prod.yaml",
        put("tags.environment", "prod!"),
        f"config/prod.yaml: tags.environment: 'prod!' {TAG_VALUE_RULE}",
    ),
    case(
        "tag-value-empty",
        "prod.yaml",
        put("tags.cost_centre", ""),
        f"config/prod.yaml: tags.cost_centre: '' {TAG_VALUE_RULE}",
    ),
    case(
        "extra-tag-value-bad",
        "prod.yaml",
        put("tags.extra", {"Team": "a#b"}),
        f"config/prod.yaml: tags.extra.Team: 'a#b' {TAG_VALUE_RULE}",
    ),
    # ---- strict types
    case(
        "bool-given-as-string-yes",
        "prod.yaml",
        put("termination_protection", "yes"),
        prefix="config/prod.yaml: termination_protection: 'yes': ",
        fragment="valid boolean",
    ),
    case(
        "retention-given-as-string",
        "test.yaml",
        put("network.flow_logs.retention_days", "30"),
        prefix="config/test.yaml: network.flow_logs.retention_days: '30': ",
        fragment="valid integer",
    ),
    case(
        "retain-on-delete-given-as-int",
        "test.yaml",
        put("network.flow_logs.retain_on_delete", 0),
        prefix="config/test.yaml: network.flow_logs.retain_on_delete: 0: ",
        fragment="valid boolean",
    ),
    case(
        "network-given-as-string",
        "prod.yaml",
        put("network", "default"),
        prefix="config/prod.yaml: network: 'default': ",
        fragment="valid dictionary",
    ),
    # ---- file-level problems (raw text)
    case(
        "yaml-syntax-error",
        "prod.yaml",
        "stage_name: Prod\naccount: '333333333333'\nnetwork:\n  cidr: [10.30.0.0/16\n  nat: x\n",
        "config/prod.yaml: line 5, column 6: invalid YAML: expected ',' or ']', but got ':'",
    ),
    case(
        "yaml-tab-indent",
        "prod.yaml",
        "stage_name: Prod\n\taccount: '333333333333'\n",
        "config/prod.yaml: line 2, column 1: invalid YAML: "
        "found character '\\t' that cannot start any token",
    ),
    case(
        "yaml-key-given-twice",
        "prod.yaml",
        "stage_name: Prod\naccount: '333333333333'\nnetwork:\n"
        "  cidr: 10.30.0.0/16\n  nat: per_az\n  nat: single\n",
        "config/prod.yaml: line 6, column 3: invalid YAML: "
        "key 'nat' is given twice (first on line 5)",
    ),
    case(
        "top-level-list",
        "prod.yaml",
        "- stage_name: Prod\n- account: '333333333333'\n",
        "config/prod.yaml: the file must hold a mapping of settings, not a list or value",
    ),
    case(
        "top-level-scalar",
        "prod.yaml",
        "Prod\n",
        "config/prod.yaml: the file must hold a mapping of settings, not a list or value",
    ),
    case("empty-file", "prod.yaml", "", *MISSING_IN_EMPTY_FILE),
    case("comments-only-file", "prod.yaml", "# nothing yet\n", *MISSING_IN_EMPTY_FILE),
    # ---- a bad value that comes from defaults.yaml
    case(
        "defaults-bad-zones-used-by-one-env",
        "defaults.yaml",
        put("network.availability_zones", ["ap-northeast-1a"]),
        f"{DEFAULTS_FOR.format('test.yaml')}: network.availability_zones: "
        "lists 1 zone(s); the platform spans 2 or 3",
    ),
    case(
        "defaults-bad-region-used-by-all",
        "defaults.yaml",
        put("region", "Tokyo"),
        *(
            f"{DEFAULTS_FOR.format(env)}: region: 'Tokyo' is not an AWS region name "
            "(e.g. 'ap-northeast-1')"
            for env in ("prod.yaml", "stage.yaml", "test.yaml")
        ),
    ),
    case(
        "defaults-unknown-key",
        "defaults.yaml",
        put("tags.team", "web"),
        *(
            f"{DEFAULTS_FOR.format(env)}: tags.team: unknown key "
            "(allowed: project, environment, owner, cost_centre, extra)"
            for env in ("prod.yaml", "stage.yaml", "test.yaml")
        ),
    ),
    case(
        "env-value-not-blamed-on-defaults",
        "test.yaml",
        put("network.availability_zones", ["ap-northeast-1a"]),
        "config/test.yaml: network.availability_zones: lists 1 zone(s); the platform spans 2 or 3",
    ),
    # ---- database
    case(
        "database-version-unsupported",
        "prod.yaml",
        put("database.engine_version", "9.6"),
        "config/prod.yaml: database.engine_version: '9.6' is not a supported postgres version "
        "(14, 15, 16, 17)",
    ),
    case(
        "database-mysql-with-a-postgres-version",
        "stage.yaml",
        put("database.engine", "mysql"),
        "config/stage.yaml: database.engine_version (set in config/defaults.yaml): '16' is not "
        "a supported mysql version (8.0, 8.4)",
    ),
    case(
        "database-max-storage-below-allocated",
        "prod.yaml",
        put("database.max_allocated_storage_gb", 50),
        "config/prod.yaml: database.max_allocated_storage_gb: 50 is below allocated_storage_gb 100",
    ),
    case(
        "database-mysql-insights-on-micro",
        "test.yaml",
        combine(
            TEST_AS_INSTANCE,
            put("database.engine", "mysql"),
            put("database.engine_version", "8.4"),
        ),
        "config/test.yaml: database.performance_insights (set in config/defaults.yaml): "
        "RDS for MySQL has no Performance Insights on t4g.micro",
    ),
    case(
        "database-backup-window-malformed",
        "prod.yaml",
        put("database.backup_window", "2am"),
        "config/prod.yaml: database.backup_window: '2am' is not a window like '17:00-17:30'",
    ),
    case(
        "database-backup-retention-too-long",
        "prod.yaml",
        put("database.backup_retention_days", 90),
        prefix="config/prod.yaml: database.backup_retention_days: 90: ",
        fragment="less than or equal to 35",
    ),
    case(
        "database-removal-policy-unknown",
        "prod.yaml",
        put("database.removal_policy", "keep"),
        prefix="config/prod.yaml: database.removal_policy: 'keep': ",
        fragment="'snapshot', 'retain' or 'destroy'",
    ),
    case(
        "no-nat-without-secretsmanager-endpoint",
        "test.yaml",
        combine(
            put("database.credentials", "rotated_by_lambda"),
            put("network.interface_endpoints", ["ecr.api", "ecr.dkr", "logs"]),
        ),
        "config/test.yaml: network.interface_endpoints: must include 'secretsmanager' when nat "
        "is 'none': the password-rotation function has no other way to reach Secrets Manager",
    ),
    # ---- dns / compute / migration
    case(
        "dns-zone-id-malformed",
        "prod.yaml",
        put("dns.hosted_zone_id", "abc"),
        "config/prod.yaml: dns.hosted_zone_id: 'abc' is not a Route 53 hosted zone id like "
        "'Z0123456789ABC'",
    ),
    case(
        "compute-domain-outside-the-zone",
        "prod.yaml",
        put("compute.domain_name", "origin.example.org"),
        "config/prod.yaml: compute.domain_name: 'origin.example.org' is not inside the hosted "
        "zone 'example.com'",
    ),
    case(
        "compute-domain-not-a-domain",
        "prod.yaml",
        put("compute.domain_name", "Origin_Example"),
        "config/prod.yaml: compute.domain_name: 'Origin_Example' is not a valid lower-case "
        "domain name",
    ),
    case(
        "compute-domain-used-twice",
        "stage.yaml",
        put("compute.domain_name", "origin.example.com"),
        "config/stage.yaml: compute.domain_name: 'origin.example.com' is already used by "
        "config/prod.yaml",
    ),
    case(
        "service-desired-above-max",
        "prod.yaml",
        put("services.api.capacity", {"min": 2, "desired": 12, "max": 10}),
        "config/prod.yaml: services.api.capacity.desired: needs min <= desired <= max, "
        "got 2 / 12 / 10",
    ),
    case(
        "service-min-above-desired",
        "stage.yaml",
        put("services.web.capacity.min", 3),
        "config/stage.yaml: services.web.capacity.desired: needs min <= desired <= max, "
        "got 3 / 2 / 4",
    ),
    case(
        "service-memory-not-a-fargate-size",
        "prod.yaml",
        put("services.api.memory_mib", 1000),
        "config/prod.yaml: services.api.memory_mib: 1000 is not a Fargate size for cpu 512 "
        "(1024-4096 in steps of 1024)",
    ),
    case(
        "service-cpu-not-a-fargate-size",
        "prod.yaml",
        put("services.api.cpu", 300),
        prefix="config/prod.yaml: services.api.cpu: 300: ",
        fragment="256, 512, 1024",
    ),
    case(
        "compute-public-subnets-with-nat",
        "prod.yaml",
        put("compute.subnets", "public"),
        "config/prod.yaml: compute.subnets: 'public' is for network.nat 'none'; with nat "
        "'per_az' tasks belong in 'private' subnets",
    ),
    case(
        "compute-private-subnets-without-nat-or-endpoints",
        "test.yaml",
        combine(
            put("compute.subnets", "private"),
            put("network.interface_endpoints", ["secretsmanager"]),
        ),
        "config/test.yaml: network.interface_endpoints: must include ecr.api, ecr.dkr, logs: "
        "tasks in private subnets without NAT pull images, write logs and read secrets only "
        "through them",
    ),
    case(
        "service-ecr-image-without-tag",
        "prod.yaml",
        put("services.api.image", {"source": "ecr", "repository": "web/api"}),
        "config/prod.yaml: services.api.image.tag: is required when source is 'ecr'",
    ),
    case(
        "service-health-check-path-relative",
        "prod.yaml",
        put("services.api.health_check.path", "api/health"),
        prefix="config/prod.yaml: services.api.health_check.path: 'api/health': ",
        fragment="should match pattern",
    ),
    case(
        "service-environment-name-invalid",
        "prod.yaml",
        put("services.api.environment", {"log-level": "info"}),
        prefix="config/prod.yaml: services.api.environment.log-level.[key]: ",
        fragment="is not an environment variable name",
    ),
    case(
        "service-deployment-strategy-unknown",
        "prod.yaml",
        put("services.api.deployment.strategy", "big_bang"),
        prefix="config/prod.yaml: services.api.deployment.strategy: 'big_bang': ",
        fragment="'rolling', 'blue_green', 'canary' or 'linear'",
    ),
    *SERVICE_CASES,
    # ---- edge
    case(
        "edge-domain-outside-zone",
        "prod.yaml",
        put("edge.domain_names", ["app.example.com", "api.example.org"]),
        "config/prod.yaml: edge.domain_names[1]: 'api.example.org' is not inside the hosted "
        "zone 'example.com'",
    ),
    case(
        "edge-domain-is-the-origin",
        "prod.yaml",
        put("edge.domain_names", ["origin.example.com"]),
        "config/prod.yaml: edge.domain_names[0]: 'origin.example.com' is compute.domain_name, "
        "the origin's own name; viewers and CloudFront need different names",
    ),
    case(
        "edge-domain-used-by-another-environment",
        "stage.yaml",
        put("edge.domain_names", ["app.example.com"]),
        "config/stage.yaml: edge.domain_names[0]: 'app.example.com' is already used by "
        "config/prod.yaml",
    ),
    case(
        "edge-domain-listed-twice",
        "prod.yaml",
        put("edge.domain_names", ["app.example.com", "app.example.com"]),
        prefix="config/prod.yaml: edge.domain_names: ",
        fragment="lists 'app.example.com' twice",
    ),
    case(
        "edge-domain-names-empty",
        "prod.yaml",
        put("edge.domain_names", []),
        "config/prod.yaml: edge.domain_names: needs at least one name",
    ),
    case(
        "edge-static-ttl-out-of-order",
        "prod.yaml",
        put("edge.static.cache", {"min_seconds": 600, "default_seconds": 60, "max_seconds": 3600}),
        "config/prod.yaml: edge.static.cache.default_seconds: needs min_seconds <= "
        "default_seconds <= max_seconds, got 600 / 60 / 3600",
    ),
    case(
        "edge-static-paths-empty",
        "prod.yaml",
        put("edge.static.paths", []),
        "config/prod.yaml: edge.static.paths: needs at least one path pattern "
        "(e.g. '/_next/static/*')",
    ),
    case(
        "edge-static-path-not-absolute",
        "prod.yaml",
        put("edge.static.paths", ["_next/static/*"]),
        prefix="config/prod.yaml: edge.static.paths[0]: ",
        fragment="is not a path pattern like '/x/*'",
    ),
    case(
        "edge-api-path-is-static",
        "prod.yaml",
        put("edge.api.path", "/_next/static/*"),
        "config/prod.yaml: edge.api.path: '/_next/static/*' is also a static path",
    ),
    case(
        "edge-api-forwards-host",
        "prod.yaml",
        put("edge.api.forwarded_headers", ["Authorization", "Host"]),
        prefix="config/prod.yaml: edge.api.forwarded_headers: ",
        fragment="CloudFront does not forward or cache on Host",
    ),
    case(
        "edge-cache-header-invalid",
        "prod.yaml",
        put("edge.default.cache_headers", ["Accept Language"]),
        prefix="config/prod.yaml: edge.default.cache_headers[0]: ",
        fragment="is not an HTTP header name",
    ),
    case(
        "edge-error-page-not-static",
        "prod.yaml",
        put(
            "edge.error_responses",
            [
                {
                    "http_status": 503,
                    "ttl_seconds": 10,
                    "response_http_status": 503,
                    "response_page_path": "/errors/503.html",
                }
            ],
        ),
        "config/prod.yaml: edge.error_responses[0].response_page_path: '/errors/503.html' is "
        "not under a static path (/_next/static/*): CloudFront would fetch the error page from "
        "the origin that failed",
    ),
    case(
        "edge-error-page-without-status",
        "prod.yaml",
        put(
            "edge.error_responses",
            [{"http_status": 503, "ttl_seconds": 10, "response_page_path": "/_next/static/e.html"}],
        ),
        "config/prod.yaml: edge.error_responses[0].response_http_status: response_http_status "
        "and response_page_path go together",
    ),
    case(
        "edge-error-status-twice",
        "prod.yaml",
        put(
            "edge.error_responses",
            [{"http_status": 503, "ttl_seconds": 10}, {"http_status": 503, "ttl_seconds": 0}],
        ),
        "config/prod.yaml: edge.error_responses: lists a status twice: [503, 503]",
    ),
    case(
        "edge-hsts-preload-too-short",
        "prod.yaml",
        combine(
            put("edge.security_headers.hsts_preload", True),
            put("edge.security_headers.hsts_max_age_seconds", 86400),
        ),
        "config/prod.yaml: edge.security_headers.hsts_preload: needs hsts_include_subdomains "
        "and hsts_max_age_seconds >= 31536000 (the preload list's rules)",
    ),
    case(
        "edge-origin-header-reserved",
        "prod.yaml",
        put("edge.origin_verify_header", "X-Amz-Secret"),
        "config/prod.yaml: edge.origin_verify_header: 'X-Amz-Secret' is a header CloudFront "
        "reserves",
    ),
    case(
        "edge-price-class-unknown",
        "prod.yaml",
        put("edge.price_class", 200),
        prefix="config/prod.yaml: edge.price_class: 200: ",
        fragment="'100', '200' or 'all'",
    ),
    case(
        "edge-waf-country-lower-case",
        "prod.yaml",
        put("edge.waf.geo", {"mode": "allow", "countries": ["JP", "us"]}),
        prefix="config/prod.yaml: edge.waf.geo.countries[1]: ",
        fragment="is not an ISO 3166-1 alpha-2 code",
    ),
    case(
        "edge-waf-rate-limit-too-low",
        "prod.yaml",
        put("edge.waf.rate_limit", 5),
        prefix="config/prod.yaml: edge.waf.rate_limit: 5: ",
        fragment="greater than or equal to 10",
    ),
    case(
        "edge-waf-log-retention-invalid",
        "prod.yaml",
        put("edge.waf.log_retention_days", 100),
        prefix="config/prod.yaml: edge.waf.log_retention_days: 100 ",
        fragment="is not a CloudWatch Logs retention period",
    ),
    case(
        "edge-access-logs-destination-unknown",
        "test.yaml",
        put("edge.access_logs.destination", "firehose"),
        prefix="config/test.yaml: edge.access_logs.destination: 'firehose': ",
        fragment="'s3' or 'cloudwatch'",
    ),
    case(
        "edge-unknown-key",
        "prod.yaml",
        put("edge.aliases", ["app.example.com"]),
        prefix="config/prod.yaml: edge.aliases: unknown key (allowed: domain_names, ",
        fragment="waf)",
    ),
    case(
        "pipeline-connection-other-account",
        "prod.yaml",
        put(
            "pipeline.connection_arn",
            "arn:aws:codeconnections:ap-northeast-1:111111111111:connection/"
            "00000000-0000-4000-8000-000000000003",
        ),
        "config/prod.yaml: pipeline.connection_arn: belongs to account 111111111111, not this "
        "environment's 333333333333: a connection cannot be used from another account",
    ),
    case(
        "pipeline-connection-not-an-arn",
        "prod.yaml",
        put("pipeline.connection_arn", "arn:aws:s3:::bucket"),
        prefix="config/prod.yaml: pipeline.connection_arn: 'arn:aws:s3:::bucket' ",
        fragment="is not a CodeConnections (CodeStar) connection ARN",
    ),
    case(
        "pipeline-connection-missing",
        "prod.yaml",
        drop("pipeline.connection_arn"),
        "config/prod.yaml: pipeline.connection_arn: required with provider 'codepipeline': the "
        "GitHub connection its source action uses",
    ),
    case(
        "pipeline-repository-not-owner-name",
        "prod.yaml",
        put("pipeline.repository", "web-platform"),
        prefix="config/prod.yaml: pipeline.repository: 'web-platform' ",
        fragment="is not a GitHub repository 'owner/name'",
    ),
    case(
        "pipeline-branch-invalid",
        "prod.yaml",
        put("pipeline.branch", "release..1"),
        prefix="config/prod.yaml: pipeline.branch: 'release..1' ",
        fragment="is not a git branch name",
    ),
    case(
        "pipeline-approval-without-approvers",
        "prod.yaml",
        put("pipeline.approval", {"emails": []}),
        "config/prod.yaml: pipeline.approval.emails: name the approvers (`emails`) or their "
        "SNS topic (`topic_arn`)",
    ),
    case(
        "pipeline-approval-topic-not-an-arn",
        "prod.yaml",
        put("pipeline.approval", {"topic_arn": "approvers"}),
        prefix="config/prod.yaml: pipeline.approval.topic_arn: 'approvers' ",
        fragment="is not an SNS topic ARN",
    ),
    case(
        "pipeline-invalidates-static-path",
        "prod.yaml",
        put("pipeline.invalidation_paths", ["/", "/_next/static/*"]),
        "config/prod.yaml: pipeline.invalidation_paths[1]: '/_next/static/*' is under the "
        "static path '/_next/static/*', whose files are content-hashed and never change under "
        "the same name: list HTML paths",
    ),
    case(
        "pipeline-invalidation-path-relative",
        "prod.yaml",
        put("pipeline.invalidation_paths", ["index.html"]),
        prefix="config/prod.yaml: pipeline.invalidation_paths[0]: 'index.html' ",
        fragment="is not a path like '/'",
    ),
    case(
        "pipeline-build-cache-unknown",
        "test.yaml",
        put("pipeline.build.cache", "ebs"),
        prefix="config/test.yaml: pipeline.build.cache: 'ebs': ",
        fragment="'local' or 's3'",
    ),
    case(
        "pipeline-smoke-attempts-zero",
        "test.yaml",
        put("pipeline.smoke_test.attempts", 0),
        prefix="config/test.yaml: pipeline.smoke_test.attempts: 0: ",
        fragment="greater than or equal to 1",
    ),
    case(
        "pipeline-notification-email-invalid",
        "test.yaml",
        put("pipeline.notification_emails", ["not-an-address"]),
        prefix="config/test.yaml: pipeline.notification_emails[0]: ",
        fragment="email",
    ),
    case(
        "pipeline-two-oidc-providers-in-one-account",
        "test.yaml",
        combine(
            put("account", "222222222222"),
            put("pipeline.github_oidc", {"create_provider": True}),
        ),
        "config/test.yaml: pipeline.github_oidc.create_provider: account 222222222222 gets its "
        "GitHub OIDC provider from config/stage.yaml already; set create_provider: false here",
    ),
    case(
        "pipeline-release-creates-a-second-oidc-provider",
        "test.yaml",
        put("account", "222222222222"),
        "config/test.yaml: pipeline.github_actions.create_provider: account 222222222222 gets "
        "its GitHub OIDC provider from config/stage.yaml already; set create_provider: false "
        "here",
    ),
    case(
        "pipeline-oidc-role-name-taken",
        "test.yaml",
        combine(
            put("account", "222222222222"),
            put("pipeline.github_actions.create_provider", False),
            put(
                "pipeline.github_oidc",
                {"create_provider": False, "role_name": "Stage-github-deploy"},
            ),
        ),
        "config/test.yaml: pipeline.github_oidc.role_name: role 'Stage-github-deploy' is "
        "already created in account 222222222222 by config/stage.yaml",
    ),
    case(
        "pipeline-release-role-name-taken",
        "test.yaml",
        combine(
            put("account", "222222222222"),
            put(
                "pipeline.github_actions",
                {
                    "environment": "test",
                    "create_provider": False,
                    "role_name": "Stage-github-deploy",
                },
            ),
        ),
        "config/test.yaml: pipeline.github_actions.role_name: role 'Stage-github-deploy' is "
        "already created in account 222222222222 by config/stage.yaml",
    ),
    case(
        "pipeline-oidc-role-name-invalid",
        "prod.yaml",
        put("pipeline.github_oidc.role_name", "deploy role"),
        prefix="config/prod.yaml: pipeline.github_oidc.role_name: 'deploy role' ",
        fragment="is not an IAM role name",
    ),
    case(
        "pipeline-unknown-key",
        "prod.yaml",
        put("pipeline.stages", []),
        prefix="config/prod.yaml: pipeline.stages: unknown key (allowed: provider, "
        "connection_arn, ",
        fragment="github_oidc, github_actions)",
    ),
    # ---- pipeline.provider: github_actions (issue 16)
    case(
        "pipeline-provider-unknown",
        "test.yaml",
        put("pipeline.provider", "jenkins"),
        prefix="config/test.yaml: pipeline.provider: 'jenkins': ",
        fragment="'codepipeline' or 'github_actions'",
    ),
    case(
        "pipeline-github-actions-without-section",
        "test.yaml",
        put("pipeline.github_actions", None),
        "config/test.yaml: pipeline.github_actions: required with provider 'github_actions': "
        "name the GitHub environment (`environment: <name>`) the release runs in",
    ),
    case(
        "pipeline-github-actions-without-environment-name",
        "stage.yaml",
        put("pipeline.github_actions", {"create_provider": True}),
        "config/stage.yaml: pipeline.github_actions.environment: required with trust "
        "'environment': name the GitHub environment whose jobs may assume the release role",
    ),
    case(
        "pipeline-github-actions-without-repository",
        "test.yaml",
        put("pipeline.repository", None),
        prefix="config/test.yaml: pipeline.repository: None: ",
        fragment="string",
    ),
    case(
        "pipeline-github-actions-environment-name-invalid",
        "test.yaml",
        put("pipeline.github_actions.environment", "my env"),
        prefix="config/test.yaml: pipeline.github_actions.environment: 'my env' ",
        fragment="is not a GitHub environment name",
    ),
    case(
        "pipeline-github-actions-branch-trust-with-environment",
        "test.yaml",
        put("pipeline.github_actions.trust", "branch"),
        "config/test.yaml: pipeline.github_actions.environment: not used with trust 'branch': "
        "a job in a GitHub environment gets the subject 'environment:<name>', which a "
        "branch-trusted role refuses",
    ),
    case(
        "pipeline-github-actions-trust-unknown",
        "test.yaml",
        put("pipeline.github_actions.trust", "tag"),
        prefix="config/test.yaml: pipeline.github_actions.trust: 'tag': ",
        fragment="'environment' or 'branch'",
    ),
    case(
        "pipeline-github-actions-with-a-connection",
        "test.yaml",
        put(
            "pipeline.connection_arn",
            "arn:aws:codeconnections:ap-northeast-1:111111111111:connection/"
            "00000000-0000-4000-8000-000000000001",
        ),
        "config/test.yaml: pipeline.connection_arn: is CodePipeline's source connection; "
        "provider 'github_actions' does not use it: remove it",
    ),
    case(
        "pipeline-github-actions-with-an-approval",
        "stage.yaml",
        put("pipeline.approval", {"emails": ["approvers@example.com"]}),
        "config/stage.yaml: pipeline.approval: is CodePipeline's manual approval; with provider "
        "'github_actions' protect the GitHub environment with required reviewers instead "
        "(README)",
    ),
    case(
        "pipeline-codepipeline-with-github-actions-settings",
        "prod.yaml",
        put("pipeline.github_actions", {"environment": "prod"}),
        "config/prod.yaml: pipeline.github_actions: only with provider 'github_actions'",
    ),
    case(
        "pipeline-github-actions-provider-disagrees-with-deploy-role",
        "stage.yaml",
        put("pipeline.github_actions.create_provider", False),
        "config/stage.yaml: pipeline.github_actions.create_provider: must equal "
        "github_oidc.create_provider: the deploy role and the release role share the "
        "account's one GitHub OIDC provider",
    ),
    case(
        "pipeline-github-actions-timeout-too-long",
        "test.yaml",
        put("pipeline.github_actions.timeout_minutes", 721),
        prefix="config/test.yaml: pipeline.github_actions.timeout_minutes: 721: ",
        fragment="less than or equal to 720",
    ),
    case(
        "pipeline-github-environment-releases-two-stages",
        "test.yaml",
        put("pipeline.github_actions.environment", "Stage"),
        "config/test.yaml: pipeline.github_actions.environment: 'Stage' already releases "
        "config/stage.yaml: one GitHub environment per stage, or its jobs could assume both "
        "release roles",
    ),
    # ---- data protection: an environment holding real data keeps it
    case(
        "real-data-without-deletion-protection",
        "prod.yaml",
        put("database.deletion_protection", False),
        "config/prod.yaml: database.deletion_protection: must be true: "
        "data_protection.holds_real_data is true",
    ),
    case(
        "real-data-destroyed-with-the-stack",
        "prod.yaml",
        put("database.removal_policy", "destroy"),
        "config/prod.yaml: database.removal_policy: must be 'snapshot' (a final snapshot on "
        "delete), not 'destroy': data_protection.holds_real_data is true",
    ),
    case(
        "real-data-too-few-backups",
        "prod.yaml",
        put("database.backup_retention_days", 7),
        "config/prod.yaml: database.backup_retention_days: must be at least 14 "
        "(data_protection.min_backup_retention_days): data_protection.holds_real_data is true",
    ),
    case(
        "real-data-static-bucket-destroyed",
        "prod.yaml",
        put("edge.static.removal_policy", "destroy"),
        "config/prod.yaml: edge.static.removal_policy: must be 'retain': "
        "data_protection.holds_real_data is true",
    ),
    case(
        "real-data-flow-logs-deleted",
        "prod.yaml",
        put("network.flow_logs.retain_on_delete", False),
        "config/prod.yaml: network.flow_logs.retain_on_delete: must be true: "
        "data_protection.holds_real_data is true",
    ),
    case(
        "real-data-marked-on-a-destroyable-environment",
        "test.yaml",
        combine(put("data_protection.holds_real_data", True), drop("data_protection.shared_key")),
        "config/test.yaml: database.deletion_protection: must be true: "
        "data_protection.holds_real_data is true",
    ),
    case(
        "shared-key-with-a-proxy",
        "test.yaml",
        combine(TEST_AS_INSTANCE, put("database.proxy", True)),
        "config/test.yaml: data_protection.shared_key: cannot serve an RDS Proxy "
        "(database.proxy): the proxy's role would have to be named in the policy of the "
        "Network stack's key, which the Database stack depends on; drop shared_key (the "
        "database keeps its own key) or the proxy",
    ),
    case(
        "real-data-on-a-shared-key",
        "test.yaml",
        put("data_protection.holds_real_data", True),
        "config/test.yaml: data_protection.shared_key: an environment that holds real data "
        "keeps one key per use (separate key policies and deletion): drop shared_key or "
        "holds_real_data",
    ),
    # ---- observability, security, compliance
    case(
        "alarm-threshold-percent-over-100",
        "prod.yaml",
        put("observability.thresholds.ecs_cpu_percent", 120),
        prefix="config/prod.yaml: observability.thresholds.ecs_cpu_percent: 120: ",
        fragment="less than or equal to 100",
    ),
    case(
        "slack-channel-id-invalid",
        "prod.yaml",
        put("observability.slack", {"workspace_id": "T0123456789", "channel_id": "general"}),
        prefix="config/prod.yaml: observability.slack.channel_id: 'general' ",
        fragment="is not a Slack channel id",
    ),
    case(
        "canary-interval-not-whole-hours-dividing-a-day",
        "test.yaml",
        put("observability.canary.interval_minutes", 90),
        "config/test.yaml: observability.canary.interval_minutes: 90 is not a canary interval: "
        "1 to 60 minutes, or whole hours dividing a day (120, 180, 240, 360, 480, 720, 1440)",
    ),
    case(
        "canary-interval-hours-not-dividing-a-day",
        "test.yaml",
        put("observability.canary.interval_minutes", 300),
        "config/test.yaml: observability.canary.interval_minutes: 300 is not a canary interval: "
        "1 to 60 minutes, or whole hours dividing a day (120, 180, 240, 360, 480, 720, 1440)",
    ),
    case(
        "canary-interval-longer-than-a-day",
        "test.yaml",
        put("observability.canary.interval_minutes", 2880),
        prefix="config/test.yaml: observability.canary.interval_minutes: 2880: ",
        fragment="less than or equal to 1440",
    ),
    case(
        "two-guardduty-detectors-in-one-account",
        "test.yaml",
        combine(
            put("account", "222222222222"),
            put("pipeline.github_actions.create_provider", False),
            put("security", {"guardduty": True}),
        ),
        "config/test.yaml: security.guardduty: account 222222222222 (ap-northeast-1) has it "
        "from config/stage.yaml already; set it to false here",
    ),
    case(
        "tracing-without-egress",
        "test.yaml",
        combine(
            put("compute.subnets", "private"),
            put("network.interface_endpoints", ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]),
            put("observability.tracing", True),
        ),
        "config/test.yaml: observability.tracing: needs internet egress (network.nat, or "
        "compute.subnets 'public'): the X-Ray daemon image and API are reached through it",
    ),
    case(
        "compliance-pack-unknown",
        "prod.yaml",
        put("compliance.extra_packs", ["sox"]),
        prefix="config/prod.yaml: compliance.extra_packs[0]: 'sox': ",
        fragment="'hipaa' or 'pci_dss'",
    ),
    case(
        "migration-command-empty",
        "prod.yaml",
        put("migration.command", []),
        prefix="config/prod.yaml: migration.command: ",
        fragment="at least 1 item",
    ),
    case(
        "migration-timeout-too-long",
        "prod.yaml",
        put("migration.timeout_minutes", 90),
        prefix="config/prod.yaml: migration.timeout_minutes: 90: ",
        fragment="less than or equal to 55",
    ),
]


@pytest.mark.parametrize("bad", CASES)
def test_malformed_config_is_reported(config_dir: Path, bad: Case) -> None:
    target = config_dir / bad.file
    assert target.exists()
    if bad.text is not None:
        target.write_text(bad.text, encoding="utf-8")
    else:
        assert bad.change is not None
        edit_yaml(target, bad.change)

    problems = problems_of(config_dir)

    if bad.exact:
        assert problems == bad.exact
    else:
        assert len(problems) == 1, problems
        assert problems[0].startswith(bad.prefix), problems
        assert bad.fragment in problems[0], problems


def test_yaml_one_point_one_booleans_are_not_used_as_strings(config_dir: Path) -> None:
    """An unquoted `no` is a YAML boolean: a string field rejects it, naming the value."""
    prod = config_dir / "prod.yaml"
    prod.write_text(prod.read_text().replace('account: "333333333333"', "account: no"))
    assert problems_of(config_dir) == (
        "config/prod.yaml: account: False: Input should be a valid string",
    )


def test_unreadable_environment_file(config_dir: Path) -> None:
    (config_dir / "broken.yaml").mkdir()
    problems = problems_of(config_dir)
    assert len(problems) == 1
    assert problems[0].startswith("config/broken.yaml: cannot read file: ")


def test_no_environment_files(config_dir: Path) -> None:
    for name in ("prod.yaml", "stage.yaml", "test.yaml"):
        (config_dir / name).unlink()
    assert problems_of(config_dir) == ("config: no environment files (*.yaml) found",)


def test_yaml_error_in_defaults_is_reported_first(config_dir: Path) -> None:
    (config_dir / "defaults.yaml").write_text("region: [\n", encoding="utf-8")
    problems = problems_of(config_dir)
    assert problems[0] == (
        "config/defaults.yaml: line 2, column 1: invalid YAML: "
        "expected the node content, but found '<stream end>'"
    )


def test_non_utf8_file_is_a_config_error(config_dir: Path) -> None:
    prod = config_dir / "prod.yaml"
    prod.write_bytes(prod.read_bytes() + b"# caf\xe9\n")
    problems = problems_of(config_dir)
    assert problems == (f"config/prod.yaml: not UTF-8 text (byte {len(prod.read_bytes()) - 2})",)


# --------------------------------------------------------------------------- all problems at once


def test_every_problem_of_every_file_is_reported_together(config_dir: Path) -> None:
    edit_yaml(config_dir / "prod.yaml", put("network.cidr", "10.0.0.0/33"))
    edit_yaml(
        config_dir / "stage.yaml",
        combine(put("account", "2222"), put("network.flow_logs.retention_days", 45)),
    )
    (config_dir / "test.yaml").write_text("stage_name: Test\n  account: x\n", encoding="utf-8")
    dev = read_yaml(SHIPPED_CONFIG / "test.yaml")
    dev["network"]["cidr"] = "10.40.0.0/16"  # stage_name stays "Test": clashes with qa.yaml
    write_yaml(config_dir / "dev.yaml", dev)
    qa = read_yaml(SHIPPED_CONFIG / "test.yaml")
    qa["network"]["cidr"] = "10.40.128.0/17"  # overlaps dev.yaml
    write_yaml(config_dir / "qa.yaml", qa)

    assert problems_of(config_dir) == (
        "config/prod.yaml: network.cidr: '10.0.0.0/33' is not a valid IPv4 network",
        "config/stage.yaml: account: '2222' is not an AWS account id (12 digits)",
        "config/stage.yaml: network.flow_logs.retention_days: 45 is not a CloudWatch Logs "
        f"retention period (days: {RETENTIONS})",
        "config/test.yaml: line 2, column 10: invalid YAML: mapping values are not allowed here",
        "config/qa.yaml: stage_name: 'Test' clashes with stage 'Test' of config/dev.yaml",
        "config/qa.yaml: compute.domain_name: 'origin-test.example.com' is already used by "
        "config/dev.yaml",
        "config/qa.yaml: edge.domain_names[0]: 'app-test.example.com' is already used by "
        "config/dev.yaml",
        "config/qa.yaml: edge.domain_names[1]: 'api-test.example.com' is already used by "
        "config/dev.yaml",
        # Same account and GitHub environment as dev.yaml: one provider, one role of a name,
        # one stage per GitHub environment.
        "config/qa.yaml: pipeline.github_actions.create_provider: account 111111111111 gets its "
        "GitHub OIDC provider from config/dev.yaml already; set create_provider: false here",
        "config/qa.yaml: pipeline.github_actions.role_name: role 'Test-github-release' is "
        "already created in account 111111111111 by config/dev.yaml",
        "config/qa.yaml: pipeline.github_actions.environment: 'test' already releases "
        "config/dev.yaml: one GitHub environment per stage, or its jobs could assume both "
        "release roles",
        "config/qa.yaml: network.cidr: '10.40.128.0/17' overlaps '10.40.0.0/16' of config/dev.yaml",
    )


def test_two_branch_trusted_releases_of_one_repository(config_dir: Path) -> None:
    """Without GitHub environments, the workflow reads the role from repository variables,
    which one stage can hold per repository (and two roles trusting one branch would admit
    each other's runs)."""
    for name in ("test.yaml", "stage.yaml"):
        edit_yaml(config_dir / name, put("pipeline.github_actions.environment", None))
        edit_yaml(config_dir / name, put("pipeline.github_actions.trust", "branch"))
    assert problems_of(config_dir) == (
        "config/test.yaml: pipeline.github_actions.trust: example-org/web-platform already has "
        "a branch-trusted release (config/stage.yaml), whose repository variables this one "
        "would share: use trust 'environment'",
    )
    edit_yaml(config_dir / "test.yaml", put("pipeline.repository", "example-org/other"))
    release = by_stage(load_environments(config_dir))["Test"].pipeline
    assert release is not None
    assert release.github_actions is not None
    assert (release.github_actions.trust, release.github_actions.environment) == ("branch", None)


@pytest.mark.parametrize("minutes", [1, 60, 120, 180, 240, 360, 480, 720, 1440])
def test_canary_intervals_beyond_an_hour_in_whole_hours_dividing_a_day(
    config_dir: Path, minutes: int
) -> None:
    edit_yaml(config_dir / "test.yaml", put("observability.canary.interval_minutes", minutes))
    test = by_stage(load_environments(config_dir))["Test"]
    assert test.observability.canary.interval_minutes == minutes


def test_fixed_capacity_min_equal_to_max_is_accepted(config_dir: Path) -> None:
    """min = desired = max: fixed capacity (no scaling policies, l3_constructs/service.py)."""
    edit_yaml(
        config_dir / "stage.yaml", put("services.web.capacity", {"min": 3, "desired": 3, "max": 3})
    )
    web = by_stage(load_environments(config_dir))["Stage"].services["web"]
    assert (web.capacity.min, web.capacity.desired, web.capacity.max) == (3, 3, 3)


def test_shipped_test_services_are_fixed_at_one_task() -> None:
    """Issue 15 (cost): Test's web and api run one task each, fixed (no scaling alarms)."""
    services = by_stage(load_environments(SHIPPED_CONFIG))["Test"].services
    for name in ("web", "api"):
        c = services[name].capacity
        assert (c.min, c.desired, c.max) == (1, 1, 1), name


# --------------------------------------------------------------------------- a new environment


def test_new_environment_file_adds_a_stage(config_dir: Path) -> None:
    # README "Adding an environment": a stage name, a CIDR, an account, a GitHub environment.
    dev = read_yaml(config_dir / "test.yaml")
    dev["stage_name"] = "Dev"
    dev["network"]["cidr"] = "10.40.0.0/16"
    dev["account"] = "444444444444"
    dev["pipeline"]["github_actions"]["environment"] = "dev"
    write_yaml(config_dir / "dev.yaml", dev)

    environments = load_environments(config_dir)

    configs = by_stage(environments)
    assert set(configs) == {"Dev", "Test", "Stage", "Prod"}
    assert [env.path.name for env in environments] == [
        "dev.yaml",
        "prod.yaml",
        "stage.yaml",
        "test.yaml",
    ]
    assert configs["Dev"].network.cidr == "10.40.0.0/16"
    test_pipeline = configs["Test"].pipeline
    assert test_pipeline is not None
    assert test_pipeline.github_actions is not None
    expected = configs["Test"].model_copy(
        update={
            "stage_name": "Dev",
            "account": "444444444444",
            "pipeline": test_pipeline.model_copy(
                update={
                    "github_actions": test_pipeline.github_actions.model_copy(
                        update={"environment": "dev"}
                    )
                }
            ),
            "network": configs["Test"].network.model_copy(update={"cidr": "10.40.0.0/16"}),
            # `origin-{stage}.example.com` in the defaults gives the copy a name of its own.
            "compute": configs["Test"].compute.model_copy(
                update={"domain_name": "origin-dev.example.com"}
            ),
            "edge": configs["Test"].edge.model_copy(
                update={"domain_names": ("app-dev.example.com", "api-dev.example.com")}
            ),
        }
    )
    assert configs["Dev"] == expected


# --------------------------------------------------------------------------- deep_merge


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    base: dict[str, Any] = {
        "region": "ap-northeast-1",
        "tags": {"project": "web", "owner": "a@example.com"},
        "network": {
            "nat": "single",
            "availability_zones": ["a", "c"],
            "flow_logs": {"destination": "cloudwatch", "retention_days": 90},
        },
    }
    override: dict[str, Any] = {
        "tags": {"owner": "b@example.com"},
        "network": {
            "availability_zones": ["d"],
            "flow_logs": {"retention_days": 365},
        },
        "account": "1",
    }
    assert deep_merge(base, override) == {
        "region": "ap-northeast-1",
        "tags": {"project": "web", "owner": "b@example.com"},
        "network": {
            "nat": "single",
            "availability_zones": ["d"],
            "flow_logs": {"destination": "cloudwatch", "retention_days": 365},
        },
        "account": "1",
    }
    # Inputs are left alone.
    assert base["network"]["flow_logs"] == {"destination": "cloudwatch", "retention_days": 90}
    assert base["tags"] == {"project": "web", "owner": "a@example.com"}
    assert "account" not in base


def test_deep_merge_replaces_across_kinds() -> None:
    assert deep_merge({"a": {"b": 1}}, {"a": 5}) == {"a": 5}
    assert deep_merge({"a": 5}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert deep_merge({"a": [1, 2]}, {"a": []}) == {"a": []}
    assert deep_merge({"a": {"b": 1}}, {"a": None}) == {"a": None}


def test_shipped_lists_replace_the_defaults() -> None:
    defaults = read_yaml(SHIPPED_CONFIG / "defaults.yaml")
    configs = by_stage(load_environments(SHIPPED_CONFIG))
    # Prod's list replaces the default list (not appended, not merged by index).
    prod_file = read_yaml(SHIPPED_CONFIG / "prod.yaml")
    assert configs["Prod"].network.interface_endpoints == tuple(
        prod_file["network"]["interface_endpoints"]
    )
    # An empty list replaces a non-empty default too (Test needs no endpoints).
    assert defaults["network"]["interface_endpoints"]
    assert configs["Test"].network.interface_endpoints == ()
    # Test gives no list of zones: it gets the defaults' list as is.
    assert configs["Test"].network.availability_zones == tuple(
        defaults["network"]["availability_zones"]
    )
    # A nested mapping merges key by key: Prod sets only retention_days.
    assert (
        configs["Prod"].network.flow_logs.traffic_type
        == defaults["network"]["flow_logs"]["traffic_type"]
    )
    assert configs["Prod"].tags.project == defaults["tags"]["project"]


# --------------------------------------------------------------------------- immutability


@pytest.fixture(scope="module")
def prod() -> EnvironmentConfig:
    return by_stage(load_environments(SHIPPED_CONFIG))["Prod"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("stage_name", "Other"),
        ("termination_protection", False),
        ("tags.owner", "x@example.com"),
        ("network.cidr", "10.99.0.0/16"),
        ("network.nat", "none"),
        ("network.subnet_masks.private", 20),
        ("network.flow_logs.retention_days", 1),
    ],
)
def test_config_objects_are_frozen(prod: EnvironmentConfig, path: str, value: object) -> None:
    *parents, last = path.split(".")
    owner: Any = prod
    for name in parents:
        owner = getattr(owner, name)
    before = getattr(owner, last)
    with pytest.raises(ValidationError) as info:
        setattr(owner, last, value)
    assert info.value.errors()[0]["type"] == "frozen_instance"
    assert getattr(owner, last) == before


def test_config_sequences_are_tuples(prod: EnvironmentConfig) -> None:
    assert isinstance(prod.network.availability_zones, tuple)
    assert isinstance(prod.network.interface_endpoints, tuple)


def test_loaded_environment_is_frozen() -> None:
    env = load_environments(SHIPPED_CONFIG)[0]
    with pytest.raises(FrozenInstanceError):
        env.path = Path("elsewhere.yaml")  # type: ignore[misc]


def test_extra_tags_are_immutable() -> None:
    config = by_stage(load_environments(SHIPPED_CONFIG))["Prod"]
    extra: Any = config.tags.extra
    with pytest.raises(TypeError):
        extra["Injected"] = "not validated"
    assert "Injected" not in config.tags.as_dict()


# --------------------------------------------------------------------------- app.py


def test_app_reports_config_errors_and_exits_1(tmp_path: Path) -> None:
    """`python app.py` with a bad config: one `config error:` line, exit 1, no CDK import."""
    shutil.copyfile(REPO_ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(
        SHIPPED_CONFIG, tmp_path / "config", ignore=shutil.ignore_patterns("__pycache__")
    )
    # Only the CDK-free facts module of the constructs: importing the CDK would fail loudly.
    (tmp_path / "l3_constructs").mkdir()
    for name in ("__init__.py", "limits.py"):
        shutil.copyfile(REPO_ROOT / "l3_constructs" / name, tmp_path / "l3_constructs" / name)
    # ... and the price tables config checks `region` against (CDK-free too).
    (tmp_path / "cost_estimate").mkdir()
    for name in ("__init__.py", "prices.py"):
        shutil.copyfile(REPO_ROOT / "cost_estimate" / name, tmp_path / "cost_estimate" / name)
    shutil.copytree(REPO_ROOT / "cost_estimate" / "prices", tmp_path / "cost_estimate" / "prices")
    assert not (tmp_path / "stacks").exists()
    edit_yaml(tmp_path / "config" / "prod.yaml", put("network.cidr", "10.0.0.0/33"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "config error: config/prod.yaml: network.cidr:" in result.stderr
    assert result.stderr.splitlines() == [
        "config error: config/prod.yaml: network.cidr: '10.0.0.0/33' is not a valid IPv4 network"
    ]
    assert result.stdout == ""
