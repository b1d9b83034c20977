"""A release plan as a Pipeline stack's outputs hold it (two services, a job, static files),
for the tests of `release_tools.plan`, `release_tools.step` and `release_tools.images`."""

from __future__ import annotations

import json
from typing import Any

from release_tools.plan import PLAN_VERSION, ReleasePlan, from_outputs

REGISTRY = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com"
STACK = "Test-Pipeline"


def workload(name: str, *, job: bool = False, directory: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "directory": directory or f"services/{name}",
        "repository_name": f"test-{name}-repo",
        "repository_uri": f"{REGISTRY}/test-{name}-repo",
        "service": None if job else f"Test-Compute-{name}Service",
        "family": f"TestCompute{name}TaskDefinition",
        "container": "app",
        "parameter": f"/Test/release/{name}-image-tag",
    }


WORKLOADS = [
    workload("web"),
    workload("api"),
    workload("cleanup", job=True, directory="services/api"),
]


def document(**changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "version": PLAN_VERSION,
        "stage_name": "Test",
        "compute_stack": "Test-Compute",
        "cluster": "Test-Compute-Cluster",
        "registry": REGISTRY,
        "latest_tag": "test-latest",
        "platform": "linux/arm64",
        "deploy_timeout_seconds": 1800,
        "workloads": len(WORKLOADS),
        "migration": {"workload": "api", "timeout_seconds": 900},
        "static": {
            "bucket": "test-static-bucket",
            "region": "us-east-1",
            "files": [
                {
                    "service": "web",
                    "prefix": "_next/static",
                    "from_image": "/app/static",
                    "directory": "services/web/static",
                }
            ],
        },
        "invalidation": {"distribution_id": "E2QWRUHAPOMQZL", "paths": ["/"]},
        "smoke": {
            "urls": [
                "https://app-test.example.com/healthz",
                "https://app-test.example.com/api/health",
            ],
            "attempts": 10,
            "interval_seconds": 15,
            "timeout_seconds": 10,
        },
    }
    plan.update(changes)
    return plan


def outputs(
    plan: dict[str, Any] | None = None, workloads: list[Any] | None = None
) -> dict[str, str]:
    """OutputKey -> OutputValue, as DescribeStacks returns them."""
    values = {
        "ReleaseRoleArn": "arn:aws:iam::111111111111:role/Test-github-release",
        "ReleaseRegion": "ap-northeast-1",
        "ReleasePlan": json.dumps(plan if plan is not None else document()),
    }
    for i, item in enumerate(WORKLOADS if workloads is None else workloads):
        values[f"ReleaseWorkload{i}"] = json.dumps(item)
    return values


def sample_plan(**changes: Any) -> ReleasePlan:
    return from_outputs(outputs(document(**changes)))
