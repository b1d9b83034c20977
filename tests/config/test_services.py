"""The `services` config: shipped workloads, rule priorities, removal, and problems reported
together (the malformed cases, one per rule, are in test_config.py's SERVICE_CASES)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.loader import load_environments
from config.service_parts import DEFAULT_RULE_PRIORITY
from config.services import Service, rule_priority, url_variable
from tests.config.helpers import SHIPPED_CONFIG, combine, edit_yaml, problems_of, put
from tests.config.test_config import by_stage

ADMIN: dict[str, Any] = {
    "kind": "web",
    "image": {"directory": "services/web"},
    "hosts": ["admin.example.com"],
    "port": 3000,
}


def _service(**fields: Any) -> Service:
    paths = fields.get("paths", ())
    health = {"path": paths[0].replace("*", "health")} if paths else {}
    return Service.model_validate(
        {"kind": "web", "image": {"directory": "x"}, "health_check": health, **fields}
    )


def test_shipped_services_follow_the_design_sizes() -> None:
    """Test 256/512, Stage 512/1024, Prod 1024/2048 with 2-3-10 tasks, split over web + api
    (Test cannot go below Fargate's smallest task for each)."""
    configs = by_stage(load_environments(SHIPPED_CONFIG))
    sizes = {
        name: {s: (svc.cpu, svc.memory_mib) for s, svc in c.services.items() if svc.kind == "web"}
        for name, c in configs.items()
    }
    assert sizes["Test"] == {"web": (256, 512), "api": (256, 512)}
    assert sizes["Stage"] == {"web": (256, 512), "api": (256, 512)}
    assert sizes["Prod"] == {"web": (512, 1024), "api": (512, 1024)}
    for name in ("web", "api"):
        capacity = configs["Prod"].services[name].capacity
        # Two tasks each, one per zone at least (scaling adds up to ten): fitted to the budget.
        assert (capacity.min, capacity.desired, capacity.max) == (2, 2, 10)
    for config in configs.values():
        web, api = config.services["web"], config.services["api"]
        assert (web.kind, web.default, web.port, web.connects_to) == ("web", True, 3000, ("api",))
        assert (api.kind, api.paths, api.port, api.database) == ("web", ("/api/*",), 8080, True)
        assert not web.database
        assert config.migration.service == "api"
        assert config.default_service == "web"
        assert web.stickiness is not None
        assert web.stickiness.duration_seconds == 86_400
        assert web.static is not None
        assert (web.static.from_image, web.static.prefix) == ("/app/static", "_next/static")
        assert config.namespace == f"{config.stage_name.lower()}.internal"


def test_priorities_come_from_the_route_only() -> None:
    """Host and path rules first, then host, then path rules, longer prefixes first; the
    default last. A service's priority never depends on the others."""
    both = rule_priority("a", _service(hosts=("a.example.com",), paths=("/x/*",)))
    host = rule_priority("a", _service(hosts=("a.example.com",)))
    long_path = rule_priority("a", _service(paths=("/api/admin/*",)))
    short_path = rule_priority("a", _service(paths=("/api/*",)))
    default = rule_priority("a", _service(default=True))
    assert both < host < long_path < short_path < default == DEFAULT_RULE_PRIORITY
    assert rule_priority("a", _service(paths=("/api/*",), priority=7)) == 7


def test_adding_a_service_moves_no_other_rule(config_dir: Path) -> None:
    before = by_stage(load_environments(config_dir))["Prod"]
    edit_yaml(config_dir / "prod.yaml", put("services.admin", ADMIN))
    after = by_stage(load_environments(config_dir))["Prod"]
    for name in ("web", "api"):
        assert rule_priority(name, after.services[name]) == rule_priority(
            name, before.services[name]
        )
    assert "admin" in after.services
    # Its host joins the distribution's names after the configured ones.
    assert after.viewer_names == (*before.edge.domain_names, "admin.example.com")
    assert after.has_host_routes


def test_null_removes_a_service_of_the_defaults(config_dir: Path) -> None:
    edit_yaml(
        config_dir / "test.yaml",
        combine(
            put("services.web", None),
            put("services.api.default", True),
            put("services.api.paths", []),
        ),
    )
    test = by_stage(load_environments(config_dir))["Test"]
    assert list(test.services) == ["api", "worker", "cleanup"]


def test_every_service_problem_is_reported_at_once(config_dir: Path) -> None:
    edit_yaml(
        config_dir / "prod.yaml",
        combine(
            put("services.web.connects_to", ["search"]),
            put("migration.service", "mailer"),
            put("services.api.storage", "read"),
        ),
    )
    assert problems_of(config_dir) == (
        "config/prod.yaml: migration.service: 'mailer' is not a service of this environment "
        "(api, cleanup, web, worker)",
        "config/prod.yaml: services.web.connects_to[0]: 'search' is not a service",
        "config/prod.yaml: services.api.storage: 'read' needs the `storage` section",
    )


def test_equal_explicit_priorities_are_refused(config_dir: Path) -> None:
    edit_yaml(
        config_dir / "prod.yaml",
        combine(
            put("services.api.priority", 10),
            put("services.admin", {**ADMIN, "priority": 10}),
        ),
    )
    assert problems_of(config_dir) == (
        "config/prod.yaml: services.admin.priority: rule priority 10 is 'api''s too: set "
        "`priority` on one of them",
    )


def test_a_host_of_two_environments_is_refused(config_dir: Path) -> None:
    for name in ("prod.yaml", "stage.yaml"):
        edit_yaml(config_dir / name, put("services.admin", ADMIN))
    assert problems_of(config_dir) == (
        "config/stage.yaml: services.admin.hosts: 'admin.example.com' is already used by "
        "config/prod.yaml",
    )


@pytest.mark.parametrize(
    ("name", "variable"), [("api", "API_URL"), ("admin-web", "ADMIN_WEB_URL"), ("a1", "A1_URL")]
)
def test_service_connect_address_variable(name: str, variable: str) -> None:
    assert url_variable(name) == variable


def test_shipped_background_work() -> None:
    """The API's image also serves a worker that costs nothing while idle and a nightly
    clean-up job at 03:00 in Tokyo; the API publishes to the worker."""
    for config in by_stage(load_environments(SHIPPED_CONFIG)).values():
        worker, cleanup, api = (config.services[n] for n in ("worker", "cleanup", "api"))
        assert (worker.kind, worker.image.directory) == ("worker", "services/api")
        assert worker.command == ("python", "-m", "sample_api", "worker")
        assert (worker.capacity.min, worker.capacity.desired) == (0, 0)
        assert worker.queue.visibility_timeout_seconds >= worker.stop_timeout_seconds
        assert api.publishes_to == ("worker",)
        assert (cleanup.kind, cleanup.schedule, cleanup.timezone) == (
            "job",
            "cron(0 3 * * ? *)",
            "Asia/Tokyo",
        )
        assert cleanup.command == ("python", "-m", "sample_api", "cleanup")
        assert cleanup.database


@pytest.mark.parametrize(
    "schedule",
    ["rate(1 day)", "rate(5 minutes)", "cron(0 3 * * ? *)", "cron(0/15 9-17 ? * MON-FRI *)"],
)
def test_valid_schedules(schedule: str) -> None:
    job = Service.model_validate(
        {"kind": "job", "image": {"directory": "x"}, "schedule": schedule, "timezone": "Asia/Tokyo"}
    )
    assert job.schedule == schedule
