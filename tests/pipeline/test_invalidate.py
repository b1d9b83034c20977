"""Tests for ``python -m release_tools.invalidate``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from release_tools import invalidate
from tests.pipeline.conftest import FakeTime

DISTRIBUTION = "E2QWRUHAPOMQZL"
INVALIDATION = "I2J0I21PCUYOIK"
BUILD_ID = "prod-invalidate:0f6c3e1a-1111-2222-3333-444455556666"


def invalidation(status: str, paths: list[str], reference: str) -> dict[str, Any]:
    return {
        "Id": INVALIDATION,
        "Status": status,
        "CreateTime": datetime(2024, 1, 1, tzinfo=UTC),
        "InvalidationBatch": {
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": reference,
        },
    }


def expect_create(stub: Stubber, paths: list[str], reference: str = BUILD_ID) -> None:
    stub.add_response(
        "create_invalidation",
        {
            "Location": f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{DISTRIBUTION}",
            "Invalidation": invalidation("InProgress", paths, reference),
        },
        {
            "DistributionId": DISTRIBUTION,
            "InvalidationBatch": {
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": reference,
            },
        },
    )


def expect_get(stub: Stubber, status: str, paths: list[str], reference: str = BUILD_ID) -> None:
    stub.add_response(
        "get_invalidation",
        {"Invalidation": invalidation(status, paths, reference)},
        {"DistributionId": DISTRIBUTION, "Id": INVALIDATION},
    )


def run(cloudfront: Any, fake_time: FakeTime, *args: str) -> int:
    return invalidate.main(
        ["--distribution-id", DISTRIBUTION, *args],
        cloudfront=cloudfront,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        environ={"CODEBUILD_BUILD_ID": BUILD_ID},
    )


def test_happy_path_waits_for_completed(
    cloudfront: Any,
    cloudfront_stub: Stubber,
    fake_time: FakeTime,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = ["/", "/index.html", "/assets/*"]
    expect_create(cloudfront_stub, paths)
    expect_get(cloudfront_stub, "InProgress", paths)
    expect_get(cloudfront_stub, "Completed", paths)

    args = [arg for path in [*paths, "/"] for arg in ("--path", path)]  # "/" twice: deduplicated
    assert run(cloudfront, fake_time, *args) == 0

    assert fake_time.sleeps == [20]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"invalidation {INVALIDATION} of distribution {DISTRIBUTION} created for "
        f"/, /index.html, /assets/* (reference {BUILD_ID})",
        f"invalidation {INVALIDATION}: InProgress",
        f"invalidation {INVALIDATION} completed",
    ]


def test_explicit_reference_wins(
    cloudfront: Any, cloudfront_stub: Stubber, fake_time: FakeTime
) -> None:
    expect_create(cloudfront_stub, ["/"], reference="deploy-42")
    expect_get(cloudfront_stub, "Completed", ["/"], reference="deploy-42")

    assert run(cloudfront, fake_time, "--path", "/", "--reference", "deploy-42") == 0
    assert fake_time.sleeps == []


def test_caller_reference_fallbacks() -> None:
    assert invalidate.caller_reference("ref", {"CODEBUILD_BUILD_ID": BUILD_ID}) == "ref"
    assert invalidate.caller_reference(None, {"CODEBUILD_BUILD_ID": BUILD_ID}) == BUILD_ID
    generated = invalidate.caller_reference(None, {})
    assert generated.startswith("invalidate-")
    assert generated.removeprefix("invalidate-").isdigit()


def test_timeout_exits_1(
    cloudfront: Any,
    cloudfront_stub: Stubber,
    fake_time: FakeTime,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expect_create(cloudfront_stub, ["/"])
    for _ in range(4):  # at 0, 20, 40 and 45 s
        expect_get(cloudfront_stub, "InProgress", ["/"])

    code = run(cloudfront, fake_time, "--path", "/", "--timeout", "45", "--poll", "20")

    assert code == 1
    assert fake_time.sleeps == [20, 20, 5]
    assert capsys.readouterr().err == (
        f"invalidation failed: invalidation {INVALIDATION} of distribution {DISTRIBUTION} is "
        "still InProgress after 45 s; it carries on in CloudFront\n"
    )


def test_create_error_exits_1(
    cloudfront: Any,
    cloudfront_stub: Stubber,
    fake_time: FakeTime,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cloudfront_stub.add_client_error(
        "create_invalidation",
        service_error_code="NoSuchDistribution",
        service_message="The specified distribution does not exist.",
        http_status_code=404,
    )

    assert run(cloudfront, fake_time, "--path", "/") == 1
    assert "NoSuchDistribution" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([], "no paths to invalidate: pass at least one --path"),
        (["--path", "/", "--path", "index.html"], "paths must start with '/': 'index.html'"),
    ],
)
def test_bad_paths_exit_2_without_aws_calls(
    cloudfront_stub: Stubber,
    calls: list[str],
    capsys: pytest.CaptureFixture[str],
    paths: list[str],
    message: str,
) -> None:
    fake_time = FakeTime()
    assert run(cloudfront_stub.client, fake_time, *paths) == 2
    assert fake_time.sleeps == []
    assert calls == []
    assert capsys.readouterr().err == f"invalidation not started: {message}\n"
