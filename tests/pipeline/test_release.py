"""Tests for the pipeline's Deploy step ``python -m release_tools.release``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from release_tools import release
from tests.pipeline.conftest import FakeTime
from tests.pipeline.responses import (
    CLUSTER,
    NEW_ARN,
    OLD_ARN,
    REPOSITORY,
    SERVICE,
    deployment,
    describe_services_params,
    described,
    register_params,
    registered,
    service,
)

TAG = "v1.1.0"
IMAGE = f"{REPOSITORY}:{TAG}"
PARAMETER = "/platform/prod/release/image-tag"
ARGS = [
    "--cluster",
    CLUSTER,
    "--service",
    SERVICE,
    "--container",
    "app",
    "--repository-uri",
    REPOSITORY,
    "--tag",
    TAG,
    "--parameter",
    PARAMETER,
    "--timeout",
    "60",
    "--poll",
    "15",
]
PUT_PARAMS = {"Name": PARAMETER, "Value": TAG, "Type": "String", "Overwrite": True}
PREPARE_CALLS = ["DescribeServices", "DescribeTaskDefinition", "RegisterTaskDefinition"]


def expect_release_start(ecs_stub: Stubber) -> None:
    """describe service -> describe task definition -> register -> update_service."""
    ecs_stub.add_response("describe_services", service(), describe_services_params())
    ecs_stub.add_response(
        "describe_task_definition",
        described(),
        {"taskDefinition": OLD_ARN, "include": ["TAGS"]},
    )
    ecs_stub.add_response("register_task_definition", registered(IMAGE), register_params(IMAGE))
    ecs_stub.add_response(
        "update_service",
        {},
        {"cluster": CLUSTER, "service": SERVICE, "taskDefinition": NEW_ARN},
    )


def rolling(state: str | None = "IN_PROGRESS", running: int = 1, **kwargs: Any) -> dict[str, Any]:
    """describe_services mid-deployment: ours PRIMARY, the old one ACTIVE."""
    return service(
        [
            deployment(
                NEW_ARN, rollout_state=state, running=running, deployment_id="ecs-svc/2", **kwargs
            ),
            deployment(OLD_ARN, status="ACTIVE", rollout_state="COMPLETED", running=2),
        ],
        task_definition_arn=NEW_ARN,
    )


@dataclass
class Aws:
    """Stubbed ECS and SSM clients, the log of calls made, and the fake clock."""

    ecs_stub: Stubber
    ssm_stub: Stubber
    calls: list[str]
    time: FakeTime

    def run(self, *extra: str) -> int:
        return release.main(
            [*ARGS, *extra],
            ecs=self.ecs_stub.client,
            ssm=self.ssm_stub.client,
            sleep=self.time.sleep,
            clock=self.time.clock,
        )


@pytest.fixture
def aws(ecs_stub: Stubber, ssm_stub: Stubber, calls: list[str], fake_time: FakeTime) -> Aws:
    return Aws(ecs_stub, ssm_stub, calls, fake_time)


def test_release_writes_parameter_only_after_completed(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_release_start(aws.ecs_stub)
    params = describe_services_params()
    aws.ecs_stub.add_response("describe_services", rolling(running=0), params)
    aws.ecs_stub.add_response("describe_services", rolling(running=0), params)
    aws.ecs_stub.add_response("describe_services", rolling(running=1), params)
    completed = service(
        [deployment(NEW_ARN, rollout_state="COMPLETED", running=2, deployment_id="ecs-svc/2")],
        task_definition_arn=NEW_ARN,
    )
    aws.ecs_stub.add_response("describe_services", completed, params)
    aws.ssm_stub.add_response("put_parameter", {"Version": 7, "Tier": "Standard"}, PUT_PARAMS)

    assert aws.run() == 0

    assert aws.calls == [
        *PREPARE_CALLS,
        "UpdateService",
        "DescribeServices",
        "DescribeServices",
        "DescribeServices",
        "DescribeServices",
        "PutParameter",
    ]
    assert aws.time.sleeps == [15, 15, 15]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"service '{SERVICE}' runs {OLD_ARN}",
        f"registered {NEW_ARN} with image {IMAGE}",
        f"updated service '{SERVICE}'; waiting for the deployment of {NEW_ARN}",
        "deployment ecs-svc/2: IN_PROGRESS (running 0/2, pending 2, failed 0)",
        "deployment ecs-svc/2: IN_PROGRESS (running 1/2, pending 1, failed 0)",
        "deployment ecs-svc/2: COMPLETED (running 2/2, pending 0, failed 0)",
        f"released {IMAGE}: parameter {PARAMETER} = {TAG}",
    ]


def test_failed_rollout_exits_1_without_parameter(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_release_start(aws.ecs_stub)
    reason = "ECS deployment circuit breaker: tasks failed to start."
    aws.ecs_stub.add_response(
        "describe_services", rolling("FAILED", reason=reason), describe_services_params()
    )

    assert aws.run() == 1

    assert "PutParameter" not in aws.calls
    assert capsys.readouterr().err == (
        f"release failed: deployment ecs-svc/2 of {NEW_ARN} failed: {reason}; "
        f"parameter {PARAMETER} still holds the previous tag\n"
    )


def test_rolled_back_deployment_exits_1(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    expect_release_start(aws.ecs_stub)
    aws.ecs_stub.add_response("describe_services", rolling(), describe_services_params())
    rolled_back = service(
        [deployment(OLD_ARN, rollout_state="IN_PROGRESS", deployment_id="ecs-svc/3")]
    )
    aws.ecs_stub.add_response("describe_services", rolled_back, describe_services_params())

    assert aws.run() == 1

    assert "PutParameter" not in aws.calls
    assert capsys.readouterr().err == (
        f"release failed: the deployment of {NEW_ARN} was rolled back (or replaced): service "
        f"'{SERVICE}' is on {OLD_ARN}; parameter {PARAMETER} still holds the previous tag\n"
    )


def test_timeout_exits_1_and_says_deployment_may_still_run(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_release_start(aws.ecs_stub)
    for _ in range(3):
        aws.ecs_stub.add_response("describe_services", rolling(), describe_services_params())

    assert aws.run("--timeout", "30") == 1

    assert aws.time.sleeps == [15, 15]
    assert "PutParameter" not in aws.calls
    assert capsys.readouterr().err == (
        f"release failed: timed out after 30 s waiting for the deployment of {NEW_ARN} on "
        f"service '{SERVICE}'; the deployment may still be running; "
        f"parameter {PARAMETER} still holds the previous tag\n"
    )


def test_missing_service_exits_2_without_changes(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = {
        "services": [],
        "failures": [{"arn": f"arn:aws:ecs:x:1:service/{SERVICE}", "reason": "MISSING"}],
    }
    aws.ecs_stub.add_response("describe_services", missing, describe_services_params())

    assert aws.run() == 2

    assert aws.calls == ["DescribeServices"]
    assert capsys.readouterr().err == (
        f"release not started: service '{SERVICE}' not found in cluster '{CLUSTER}' (MISSING)\n"
    )


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (service(status="DRAINING"), f"service '{SERVICE}' in cluster '{CLUSTER}' is DRAINING"),
        (service(controller="CODE_DEPLOY"), "uses the CODE_DEPLOY deployment controller"),
    ],
)
def test_unusable_service_exits_2(
    aws: Aws, capsys: pytest.CaptureFixture[str], response: dict[str, Any], message: str
) -> None:
    aws.ecs_stub.add_response("describe_services", response, describe_services_params())

    assert aws.run() == 2
    assert message in capsys.readouterr().err


def test_missing_container_exits_2_without_registering(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.ecs_stub.add_response("describe_services", service(), describe_services_params())
    aws.ecs_stub.add_response(
        "describe_task_definition",
        described(app_name="web"),
        {"taskDefinition": OLD_ARN, "include": ["TAGS"]},
    )

    assert aws.run() == 2

    assert aws.calls == ["DescribeServices", "DescribeTaskDefinition"]
    assert capsys.readouterr().err == (
        f"release not started: task definition {OLD_ARN} has no container named 'app' "
        "(containers: 'web', 'log-router')\n"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tag", "unreleased"], "image tag 'unreleased' is reserved"),
        (["--tag=-x"], "invalid image tag '-x'"),
        (["--repository-uri", f"{REPOSITORY}:v1"], "invalid repository URI"),
        (["--repository-uri", f"{REPOSITORY}@sha256:abc"], "invalid repository URI"),
        (["--poll", "0"], "--poll > 0"),
    ],
)
def test_bad_arguments_exit_2_without_aws_calls(
    aws: Aws, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert aws.run(*extra) == 2

    assert aws.calls == []
    err = capsys.readouterr().err
    assert err.startswith("release not started: ")
    assert message in err


def test_register_failure_exits_1_without_update(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.ecs_stub.add_response("describe_services", service(), describe_services_params())
    aws.ecs_stub.add_response(
        "describe_task_definition", described(), {"taskDefinition": OLD_ARN, "include": ["TAGS"]}
    )
    aws.ecs_stub.add_client_error(
        "register_task_definition",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: iam:PassRole",
        http_status_code=400,
        expected_params=register_params(IMAGE),
    )

    assert aws.run() == 1

    assert aws.calls == PREPARE_CALLS
    assert "iam:PassRole" in capsys.readouterr().err


def test_parameter_failure_after_deploy_exits_1_and_explains(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_release_start(aws.ecs_stub)
    aws.ecs_stub.add_response("describe_services", rolling("COMPLETED"), describe_services_params())
    aws.ssm_stub.add_client_error(
        "put_parameter",
        service_error_code="AccessDeniedException",
        service_message="denied",
        http_status_code=400,
        expected_params=PUT_PARAMS,
    )

    assert aws.run() == 1

    err = capsys.readouterr().err
    assert err.startswith(
        f"release failed: service '{SERVICE}' runs {NEW_ARN} but parameter {PARAMETER} "
        f"could not be set to '{TAG}': "
    )
    assert "next cdk deploy" in err


def test_deployment_without_rollout_state_completes_when_alone_and_steady(
    ecs: Any, ecs_stub: Stubber, fake_time: FakeTime
) -> None:
    params = describe_services_params()
    ecs_stub.add_response("describe_services", rolling(None, running=2), params)
    steady = service([deployment(NEW_ARN, rollout_state=None, running=2)])
    ecs_stub.add_response("describe_services", steady, params)

    release.wait_for_deployment(
        ecs,
        CLUSTER,
        SERVICE,
        NEW_ARN,
        timeout_seconds=60,
        poll_seconds=5,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )

    assert fake_time.sleeps == [5]


def test_region_is_passed_to_clients(
    monkeypatch: pytest.MonkeyPatch,
    ecs: Any,
    ecs_stub: Stubber,
    ssm: Any,
    fake_time: FakeTime,
) -> None:
    created: list[tuple[str, str | None]] = []

    def fake_client(name: str, region_name: str | None = None) -> Any:
        created.append((name, region_name))
        return {"ecs": ecs, "ssm": ssm}[name]

    monkeypatch.setattr(boto3, "client", fake_client)
    ecs_stub.add_response(
        "describe_services", service(status="INACTIVE"), describe_services_params()
    )

    code = release.main(
        [*ARGS, "--region", "us-west-2"], sleep=fake_time.sleep, clock=fake_time.clock
    )

    assert code == 2
    assert created == [("ecs", "us-west-2"), ("ssm", "us-west-2")]
