"""Tests for release_tools.task_definitions (pure: no AWS client involved)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from l3_constructs.limits import UNRELEASED
from release_tools.task_definitions import (
    REGISTER_FIELDS,
    ReleaseError,
    register_kwargs_with_image,
    validate_image_tag,
    validate_image_uri,
)
from tests.pipeline.responses import (
    REPOSITORY,
    SIDECAR_IMAGE,
    described,
    register_params,
)

NEW_IMAGE = f"{REPOSITORY}:v1.1.0"
READ_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)


def full_response() -> dict[str, Any]:
    """A described task definition with every read-only field and some optional ones set."""
    response = described()
    response["taskDefinition"].update(
        {
            "deregisteredAt": "2024-02-01T00:00:00Z",
            "deleteRequestedAt": "2024-02-02T00:00:00Z",
            "pidMode": "task",
            "ipcMode": "none",
            "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"},
            "inferenceAccelerators": [],
        }
    )
    return response


def test_copies_writable_fields_and_drops_read_only_ones() -> None:
    kwargs = register_kwargs_with_image(full_response(), "app", NEW_IMAGE)

    assert kwargs == {
        **register_params(NEW_IMAGE),
        "pidMode": "task",
        "ipcMode": "none",
        "proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"},
        "inferenceAccelerators": [],
    }
    assert not set(kwargs) & set(READ_ONLY)
    assert set(kwargs) - {"tags"} <= set(REGISTER_FIELDS)


def test_replaces_image_only_in_named_container() -> None:
    kwargs = register_kwargs_with_image(described(), "app", NEW_IMAGE)

    images = {c["name"]: c["image"] for c in kwargs["containerDefinitions"]}
    assert images == {"app": NEW_IMAGE, "log-router": SIDECAR_IMAGE}
    app = kwargs["containerDefinitions"][0]
    assert app["secrets"] == described()["taskDefinition"]["containerDefinitions"][0]["secrets"]


def test_input_is_not_mutated_or_shared() -> None:
    response = full_response()
    before = copy.deepcopy(response)

    kwargs = register_kwargs_with_image(response, "app", NEW_IMAGE)
    kwargs["containerDefinitions"][1]["environment"] = [{"name": "X", "value": "1"}]
    kwargs["runtimePlatform"]["cpuArchitecture"] = "X86_64"
    kwargs["tags"][0]["value"] = "changed"

    assert response == before


def test_missing_container_names_existing_ones() -> None:
    with pytest.raises(ReleaseError) as excinfo:
        register_kwargs_with_image(described(), "web", NEW_IMAGE)

    assert str(excinfo.value) == (
        "task definition arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-web:41 "
        "has no container named 'web' (containers: 'app', 'log-router')"
    )


def test_no_tags_and_reserved_tags_are_left_out() -> None:
    response = described()
    del response["tags"]
    assert "tags" not in register_kwargs_with_image(response, "app", NEW_IMAGE)

    response["tags"] = [{"key": "aws:cloudformation:stack-name", "value": "Prod-Compute"}]
    assert "tags" not in register_kwargs_with_image(response, "app", NEW_IMAGE)

    response["tags"] = []
    assert "tags" not in register_kwargs_with_image(response, "app", NEW_IMAGE)


def test_response_without_task_definition_is_an_error() -> None:
    with pytest.raises(ReleaseError, match="no taskDefinition"):
        register_kwargs_with_image({"tags": []}, "app", NEW_IMAGE)


@pytest.mark.parametrize(
    "tag",
    ["v1.2.3", "a", "_x", "0123abcd", "release-2024.01.01_1", "A" * 128, "sha-3f2c9e1"],
)
def test_valid_tags(tag: str) -> None:
    assert validate_image_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    ["", ".hidden", "-dash", "A" * 129, "has space", "a/b", "a:b", "ünïcode", "v1\n"],
)
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(ReleaseError, match="invalid image tag"):
        validate_image_tag(tag)


def test_unreleased_is_reserved() -> None:
    assert UNRELEASED == "unreleased"
    with pytest.raises(ReleaseError, match="reserved"):
        validate_image_tag(UNRELEASED)


@pytest.mark.parametrize(
    "image",
    [NEW_IMAGE, REPOSITORY, f"{REPOSITORY}@sha256:{'a' * 64}", "localhost:5000/web"],
)
def test_valid_image_uris(image: str) -> None:
    assert validate_image_uri(image) == image


@pytest.mark.parametrize(
    "image", ["", " web:v1", "web :v1", f"{REPOSITORY}:{UNRELEASED}", f"{REPOSITORY}:.bad", ":v1"]
)
def test_invalid_image_uris(image: str) -> None:
    with pytest.raises(ReleaseError):
        validate_image_uri(image)
