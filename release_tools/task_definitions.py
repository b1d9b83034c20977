"""Build a new ECS task definition revision that differs from a described one only by an image.

Pure functions (no boto3): the caller passes a ``describe_task_definition`` response (called
with ``include=["TAGS"]``) and sends the returned kwargs to ``register_task_definition``.
Used by ``release_tools.release`` (the pipeline's Deploy step) and
``release_tools.migrate --image``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

# The release record's value before the first release (one definition, CDK-free).
from l3_constructs.limits import UNRELEASED

#: ECR image tag rules: 1-128 characters, no leading '.' or '-'.
_TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

#: Fields of a described task definition that RegisterTaskDefinition accepts. Everything
#: else (taskDefinitionArn, revision, status, requiresAttributes, compatibilities,
#: registeredAt, registeredBy, deregisteredAt, deleteRequestedAt, ...) is read-only.
REGISTER_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
)

#: Tag keys with this prefix are reserved by AWS and rejected by RegisterTaskDefinition.
_RESERVED_TAG_PREFIX = "aws:"


class ReleaseError(Exception):
    """The task definition, image or tag cannot be used; the message is shown to users."""


def validate_image_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid ECR image tag other than ``UNRELEASED``; raise otherwise."""
    if tag == UNRELEASED:
        raise ReleaseError(
            f"image tag {tag!r} is reserved: it marks a stage that has never been released"
        )
    if not _TAG_PATTERN.fullmatch(tag):
        raise ReleaseError(
            f"invalid image tag {tag!r}: expected 1-128 characters from A-Z a-z 0-9 _ . - "
            "not starting with '.' or '-'"
        )
    return tag


def validate_image_uri(image: str) -> str:
    """Return ``image`` if it looks like an image reference; check its tag if it has one."""
    if not image or image != image.strip() or any(c.isspace() for c in image):
        raise ReleaseError(f"invalid image {image!r}: must be non-empty with no whitespace")
    last_segment = image.rsplit("/", 1)[-1]
    if "@" not in last_segment and ":" in last_segment:
        repository, tag = image.rsplit(":", 1)
        if not repository:
            raise ReleaseError(f"invalid image {image!r}: no repository before the tag")
        validate_image_tag(tag)
    return image


def register_kwargs_with_image(
    described: Mapping[str, Any], container_name: str, image: str
) -> dict[str, Any]:
    """Kwargs registering a copy of ``described`` with ``image`` in container ``container_name``.

    ``described`` is a ``describe_task_definition`` response: ``taskDefinition`` plus the
    optional top-level ``tags``. The input is not modified; the result shares nothing with it.
    """
    task_definition = described.get("taskDefinition")
    if not isinstance(task_definition, Mapping):
        raise ReleaseError("the describe_task_definition response has no taskDefinition")
    family = task_definition.get("family")
    if not family:
        raise ReleaseError("the described task definition has no family")

    kwargs: dict[str, Any] = {
        field: copy.deepcopy(task_definition[field])
        for field in REGISTER_FIELDS
        if task_definition.get(field) is not None
    }
    containers: list[dict[str, Any]] = kwargs.get("containerDefinitions") or []
    matches = [c for c in containers if c.get("name") == container_name]
    if not matches:
        names = ", ".join(repr(c.get("name")) for c in containers) or "none"
        raise ReleaseError(
            f"task definition {task_definition.get('taskDefinitionArn', family)} has no "
            f"container named {container_name!r} (containers: {names})"
        )
    for container in matches:
        container["image"] = image

    tags = [
        {"key": tag["key"], "value": tag.get("value", "")}
        for tag in described.get("tags") or []
        if tag.get("key") and not str(tag["key"]).lower().startswith(_RESERVED_TAG_PREFIX)
    ]
    if tags:
        kwargs["tags"] = tags
    return kwargs
