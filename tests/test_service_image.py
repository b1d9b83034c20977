"""The service's image source: an asset built from a directory, or an ECR repository + tag.

Construct-level (no synth): the shipped configs all use the asset; this covers `ecr`.
"""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecs as ecs

from l3_constructs.workload import ImageSource, TaskProps, _image
from tests.conftest import ROOT, Synth


def _props(image: ImageSource) -> TaskProps:
    return TaskProps(name="api", image=image)


@pytest.fixture(scope="module")
def stack(synth: Synth) -> Stack:
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    return Stack(App(), "ImageTest")


def test_ecr_image_is_keyed_on_repository_and_tag(stack: Stack) -> None:
    image = _image(stack, _props(ImageSource(kind="ecr", repository_name="web/api", tag="v1.2.3")))
    assert isinstance(image.image, ecs.ContainerImage)
    assert image.image_id == "web/api:v1.2.3"


def test_asset_image_is_keyed_on_its_content_hash(stack: Stack) -> None:
    image = _image(
        stack, _props(ImageSource(kind="asset", directory=str(ROOT / "services" / "api")))
    )
    assert len(image.image_id) == 64
    assert int(image.image_id, 16) >= 0


def test_incomplete_ecr_source_is_refused(stack: Stack) -> None:
    with pytest.raises(ValueError, match="incomplete image source"):
        _image(stack, _props(ImageSource(kind="ecr", repository_name="web/api")))
