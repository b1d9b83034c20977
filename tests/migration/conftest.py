"""Fixtures: real boto3 clients wrapped in botocore Stubbers; AWS is never called."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

REGION = "ap-northeast-1"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Dummy credentials and region, and no shared config, so nothing is looked up."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


@pytest.fixture
def ecs() -> Any:
    return boto3.client("ecs", region_name=REGION)


@pytest.fixture
def ecs_stub(ecs: Any) -> Iterator[Stubber]:
    with Stubber(ecs) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def cfn() -> Any:
    return boto3.client("cloudformation", region_name=REGION)


@pytest.fixture
def cfn_stub(cfn: Any) -> Iterator[Stubber]:
    with Stubber(cfn) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
