"""Fixtures: boto3 clients wrapped in botocore Stubbers, a call log and a fake clock.

AWS is never called and nothing really sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

# Dummy credentials and region, no shared config (autouse): the migration tests' fixture.
from tests.migration.conftest import REGION, aws_env

__all__ = ["REGION", "aws_env"]


class FakeTime:
    """A clock that only moves when ``sleep`` is called; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def calls() -> list[str]:
    """Operation names, in order, of every API call made by any client from these fixtures."""
    return []


def _client(service: str, calls: list[str]) -> Any:
    client = boto3.client(service, region_name=REGION)

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    # Emitted to every handler (unlike before-call, which the Stubber answers first).
    client.meta.events.register("before-parameter-build.*.*", record)
    return client


def _stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def ecs(calls: list[str]) -> Any:
    return _client("ecs", calls)


@pytest.fixture
def ecs_stub(ecs: Any) -> Iterator[Stubber]:
    yield from _stub(ecs)


@pytest.fixture
def ssm(calls: list[str]) -> Any:
    return _client("ssm", calls)


@pytest.fixture
def ssm_stub(ssm: Any) -> Iterator[Stubber]:
    yield from _stub(ssm)


@pytest.fixture
def cfn(calls: list[str]) -> Any:
    return _client("cloudformation", calls)


@pytest.fixture
def cfn_stub(cfn: Any) -> Iterator[Stubber]:
    yield from _stub(cfn)


@pytest.fixture
def cloudfront(calls: list[str]) -> Any:
    return _client("cloudfront", calls)


@pytest.fixture
def cloudfront_stub(cloudfront: Any) -> Iterator[Stubber]:
    yield from _stub(cloudfront)
