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
    PREFIX,
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


# --- Register only (a job: --task-definition-family) --------------------------------------------

JOB_FAMILY = "prod-cleanup"
JOB_OLD_ARN = f"{PREFIX}:task-definition/{JOB_FAMILY}:6"
JOB_NEW_ARN = f"{PREFIX}:task-definition/{JOB_FAMILY}:7"
JOB_PARAMETER = "/platform/prod/release/cleanup"
JOB_ARGS = [
    "--task-definition-family",
    JOB_FAMILY,
    "--container",
    "app",
    "--repository-uri",
    REPOSITORY,
    "--tag",
    TAG,
    "--parameter",
    JOB_PARAMETER,
]
JOB_PUT_PARAMS = {"Name": JOB_PARAMETER, "Value": TAG, "Type": "String", "Overwrite": True}


def run_job(aws: Aws, *extra: str) -> int:
    return release.main(
        [*JOB_ARGS, *extra],
        ecs=aws.ecs_stub.client,
        ssm=aws.ssm_stub.client,
        sleep=aws.time.sleep,
        clock=aws.time.clock,
    )


def expect_job_describe(ecs_stub: Stubber, **kwargs: Any) -> None:
    """The family by name: ECS answers with its latest ACTIVE revision."""
    ecs_stub.add_response(
        "describe_task_definition",
        described(arn=JOB_OLD_ARN, **kwargs),
        {"taskDefinition": JOB_FAMILY, "include": ["TAGS"]},
    )


def test_register_only_copies_the_familys_latest_revision_then_writes_the_record(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_job_describe(aws.ecs_stub)
    aws.ecs_stub.add_response(
        "register_task_definition",
        registered(IMAGE, arn=JOB_NEW_ARN),
        register_params(IMAGE, family=JOB_FAMILY),
    )
    aws.ssm_stub.add_response("put_parameter", {"Version": 3, "Tier": "Standard"}, JOB_PUT_PARAMS)

    assert run_job(aws) == 0

    # No service: nothing described, updated or waited for; the record only after registering.
    assert aws.calls == ["DescribeTaskDefinition", "RegisterTaskDefinition", "PutParameter"]
    assert aws.time.sleeps == []
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"registered {JOB_NEW_ARN} with image {IMAGE}",
        f"the next run of family '{JOB_FAMILY}' uses {JOB_NEW_ARN}",
        f"released {IMAGE}: parameter {JOB_PARAMETER} = {TAG}",
    ]


def test_register_only_failure_leaves_the_record_alone(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_job_describe(aws.ecs_stub)
    aws.ecs_stub.add_client_error(
        "register_task_definition",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: iam:PassRole",
        http_status_code=400,
        expected_params=register_params(IMAGE, family=JOB_FAMILY),
    )

    assert run_job(aws) == 1

    assert aws.calls == ["DescribeTaskDefinition", "RegisterTaskDefinition"]
    err = capsys.readouterr().err
    assert err.startswith("release failed: ")
    assert "iam:PassRole" in err
    assert err.endswith(f"; parameter {JOB_PARAMETER} still holds the previous tag\n")


def test_register_only_record_failure_exits_1_and_explains(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_job_describe(aws.ecs_stub)
    aws.ecs_stub.add_response(
        "register_task_definition",
        registered(IMAGE, arn=JOB_NEW_ARN),
        register_params(IMAGE, family=JOB_FAMILY),
    )
    aws.ssm_stub.add_client_error(
        "put_parameter",
        service_error_code="AccessDeniedException",
        service_message="denied",
        http_status_code=400,
        expected_params=JOB_PUT_PARAMS,
    )

    assert run_job(aws) == 1

    err = capsys.readouterr().err
    assert err.startswith(
        f"release failed: the latest revision of family '{JOB_FAMILY}' is {JOB_NEW_ARN}, "
        f"which its next run uses, but parameter {JOB_PARAMETER} could not be set to '{TAG}': "
    )
    assert "next cdk deploy" in err


def test_register_only_missing_family_exits_2_without_changes(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.ecs_stub.add_client_error(
        "describe_task_definition",
        service_error_code="ClientException",
        service_message="Unable to describe task definition.",
        http_status_code=400,
        expected_params={"taskDefinition": JOB_FAMILY, "include": ["TAGS"]},
    )

    assert run_job(aws) == 2

    assert aws.calls == ["DescribeTaskDefinition"]
    err = capsys.readouterr().err
    assert err.startswith(f"release not started: cannot read task definition {JOB_FAMILY}: ")


def test_register_only_missing_container_exits_2_without_registering(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_job_describe(aws.ecs_stub, app_name="cleanup")

    assert run_job(aws) == 2

    assert aws.calls == ["DescribeTaskDefinition"]
    assert capsys.readouterr().err == (
        f"release not started: task definition {JOB_OLD_ARN} has no container named 'app' "
        "(containers: 'cleanup', 'log-router')\n"
    )


def _without(args: list[str], *flags: str) -> list[str]:
    """`args` without the given flags and their values."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in flags:
            skip = True
        else:
            kept.append(arg)
    return kept


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            [*JOB_ARGS, "--cluster", CLUSTER],
            "--task-definition-family (register only) and --cluster/--service (release to a "
            "service) exclude each other",
            id="family-and-cluster",
        ),
        pytest.param(
            [*JOB_ARGS, "--service", SERVICE],
            "exclude each other",
            id="family-and-service",
        ),
        pytest.param(
            [*ARGS[:4], *JOB_ARGS],
            "exclude each other",
            id="family-cluster-and-service",
        ),
        pytest.param(
            [*JOB_ARGS, "--timeout", "60"],
            "--timeout and --poll wait for a service's deployment; --task-definition-family "
            "registers only and waits for nothing",
            id="family-and-timeout",
        ),
        pytest.param([*JOB_ARGS, "--poll", "5"], "waits for nothing", id="family-and-poll"),
        pytest.param(
            ["--task-definition-family", f"{JOB_FAMILY}:6", *JOB_ARGS[2:]],
            f"--task-definition-family '{JOB_FAMILY}:6' is not a family name",
            id="family-with-revision",
        ),
        pytest.param(
            ["--task-definition-family", JOB_OLD_ARN, *JOB_ARGS[2:]],
            "is not a family name",
            id="family-arn",
        ),
        pytest.param(
            JOB_ARGS[2:],
            "give --cluster and --service (release to a service), or --task-definition-family "
            "(register only, for a job)",
            id="no-target",
        ),
        pytest.param(_without(ARGS, "--service"), "--cluster needs --service", id="no-service"),
        pytest.param(_without(ARGS, "--cluster"), "--service needs --cluster", id="no-cluster"),
    ],
)
def test_bad_targets_are_refused_by_argparse_without_aws_calls(
    aws: Aws, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        release.main(
            argv,
            ecs=aws.ecs_stub.client,
            ssm=aws.ssm_stub.client,
            sleep=aws.time.sleep,
            clock=aws.time.clock,
        )

    assert exited.value.code == 2
    assert aws.calls == []
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m release_tools.release")
    assert "release_tools.release: error: " in err
    assert message in err


def test_a_service_release_still_polls_every_15_s_by_default(aws: Aws) -> None:
    expect_release_start(aws.ecs_stub)
    aws.ecs_stub.add_response("describe_services", rolling(), describe_services_params())
    aws.ecs_stub.add_response("describe_services", rolling("COMPLETED"), describe_services_params())
    aws.ssm_stub.add_response("put_parameter", {"Version": 8, "Tier": "Standard"}, PUT_PARAMS)

    code = release.main(
        _without(ARGS, "--timeout", "--poll"),
        ecs=aws.ecs_stub.client,
        ssm=aws.ssm_stub.client,
        sleep=aws.time.sleep,
        clock=aws.time.clock,
    )

    assert code == 0
    assert aws.time.sleeps == [15.0]
