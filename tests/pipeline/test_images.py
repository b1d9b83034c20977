"""Tests for ``release_tools.images``: registry login, the images a re-run reuses, the bake
file, `<env>-latest` by manifest copy, static files out of the new image. ECR answers
through a Stubber; docker through a fake that records its commands."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from botocore.stub import Stubber  # type: ignore[import-untyped]

from release_tools import images
from tests.pipeline.conftest import REGION
from tests.pipeline.plans import REGISTRY, sample_plan

MANIFEST = '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}'


class FakeDocker:
    """`subprocess.run` for docker: records argv (and stdin); `docker cp` writes a file."""

    def __init__(self, *, fail: str | None = None, copy_files: bool = True) -> None:
        self.commands: list[list[str]] = []
        self.stdin: list[str | None] = []
        self._fail = fail
        self._copy_files = copy_files

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(argv)
        self.stdin.append(kwargs.get("input"))
        if argv[1] == self._fail:
            return subprocess.CompletedProcess(argv, 1, "", f"{argv[1]}: boom")
        if argv[1] == "create":
            return subprocess.CompletedProcess(argv, 0, "c0ffee\n", "")
        if argv[1] == "cp" and self._copy_files:
            target = Path(argv[3])
            (target / "chunks").mkdir(parents=True, exist_ok=True)
            (target / "chunks" / "app-1a2b.js").write_text("x")
        return subprocess.CompletedProcess(argv, 0, "", "")


@pytest.fixture
def ecr() -> Any:
    return boto3.client("ecr", region_name=REGION)


@pytest.fixture
def ecr_stub(ecr: Any) -> Iterator[Stubber]:
    with Stubber(ecr) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_login_passes_the_token_through_stdin(ecr: Any, ecr_stub: Stubber) -> None:
    token = base64.b64encode(b"AWS:s3cr3t").decode()
    ecr_stub.add_response(
        "get_authorization_token",
        {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": REGISTRY}]},
        {},
    )
    docker = FakeDocker()
    images.login(ecr, REGISTRY, run=docker)
    assert docker.commands == [
        ["docker", "login", "--username", "AWS", "--password-stdin", REGISTRY]
    ]
    assert docker.stdin == ["s3cr3t"]


def test_login_failure_is_an_image_error(ecr: Any, ecr_stub: Stubber) -> None:
    token = base64.b64encode(b"AWS:x").decode()
    ecr_stub.add_response(
        "get_authorization_token", {"authorizationData": [{"authorizationToken": token}]}, {}
    )
    with pytest.raises(images.ImageError, match=r"docker login to .* failed: login: boom"):
        images.login(ecr, REGISTRY, run=FakeDocker(fail="login"))


def test_a_rerun_reuses_the_images_it_pushed(ecr: Any, ecr_stub: Stubber) -> None:
    plan = sample_plan()
    web, api, cleanup = plan.workloads
    ecr_stub.add_response(
        "describe_images",
        {"imageDetails": [{"imageTags": ["abc123"]}]},
        {"repositoryName": web.repository_name, "imageIds": [{"imageTag": "abc123"}]},
    )
    for workload in (api, cleanup):
        ecr_stub.add_client_error(
            "describe_images",
            service_error_code="ImageNotFoundException",
            expected_params={
                "repositoryName": workload.repository_name,
                "imageIds": [{"imageTag": "abc123"}],
            },
        )
    assert images.missing(ecr, plan.workloads, "abc123") == [api, cleanup]


def test_any_other_error_stops_the_build(ecr: Any, ecr_stub: Stubber) -> None:
    ecr_stub.add_client_error("describe_images", service_error_code="AccessDeniedException")
    with pytest.raises(ClientError):
        images.missing(ecr, sample_plan().workloads[:1], "abc123")


def test_the_bake_file_builds_each_image_with_its_own_cache(tmp_path: Path) -> None:
    plan = sample_plan()
    bake = images.bake_definition(plan.workloads[1:], "abc123", plan.platform, tmp_path)
    assert bake["group"] == {"default": {"targets": ["api", "cleanup"]}}
    assert bake["target"]["api"] == {
        "context": str(tmp_path / "services/api"),
        "dockerfile": "Dockerfile",
        "platforms": ["linux/arm64"],
        "tags": [f"{REGISTRY}/test-api-repo:abc123"],
        "cache-from": ["type=gha,scope=api"],
        "cache-to": ["type=gha,mode=max,scope=api"],
    }
    # The job shares the API's directory, but not its repository.
    assert bake["target"]["cleanup"]["context"] == str(tmp_path / "services/api")
    assert bake["target"]["cleanup"]["tags"] == [f"{REGISTRY}/test-cleanup-repo:abc123"]


def test_latest_is_a_copy_of_the_manifest(ecr: Any, ecr_stub: Stubber) -> None:
    plan = sample_plan()
    for i, workload in enumerate(plan.workloads):
        ecr_stub.add_response(
            "batch_get_image",
            {
                "images": [
                    {
                        "imageManifest": MANIFEST,
                        "imageManifestMediaType": "application/vnd.oci.image.index.v1+json",
                    }
                ]
            },
            {
                "repositoryName": workload.repository_name,
                "imageIds": [{"imageTag": "abc123"}],
                "acceptedMediaTypes": list(images.MANIFEST_MEDIA_TYPES),
            },
        )
        put = {
            "repositoryName": workload.repository_name,
            "imageManifest": MANIFEST,
            "imageManifestMediaType": "application/vnd.oci.image.index.v1+json",
            "imageTag": "test-latest",
        }
        if i == 0:  # a re-run: the tag names this manifest already
            ecr_stub.add_client_error(
                "put_image", service_error_code="ImageAlreadyExistsException", expected_params=put
            )
        else:
            ecr_stub.add_response("put_image", {}, put)
    images.tag_latest(ecr, plan.workloads, "abc123", plan.latest_tag)


def test_latest_of_a_missing_image_fails(ecr: Any, ecr_stub: Stubber) -> None:
    ecr_stub.add_response(
        "batch_get_image",
        {"images": [], "failures": [{"failureCode": "ImageNotFound", "failureReason": "gone"}]},
    )
    with pytest.raises(images.ImageError, match="test-web-repo:abc123: gone"):
        images.tag_latest(ecr, sample_plan().workloads[:1], "abc123", "test-latest")


def test_static_files_come_out_of_the_new_image(tmp_path: Path) -> None:
    docker = FakeDocker()
    out = tmp_path / "static"
    (out / "web").mkdir(parents=True)
    (out / "web" / "stale.js").write_text("old")  # a previous run's: emptied first
    assert images.gather_static(sample_plan(), "abc123", out, root=tmp_path, run=docker) == [
        out / "web"
    ]
    image = f"{REGISTRY}/test-web-repo:abc123"
    assert docker.commands == [
        ["docker", "create", "--platform", "linux/arm64", image, "true"],
        ["docker", "cp", "c0ffee:/app/static/.", f"{out / 'web'}/"],
        ["docker", "rm", "c0ffee"],
    ]
    assert sorted(p.name for p in (out / "web").rglob("*")) == ["app-1a2b.js", "chunks"]


def test_an_image_without_static_files_stops_the_release(tmp_path: Path) -> None:
    with pytest.raises(images.ImageError, match=r"web: no static files in /app/static of "):
        images.gather_static(
            sample_plan(), "abc123", tmp_path / "s", root=tmp_path, run=FakeDocker(copy_files=False)
        )
    docker = FakeDocker(fail="cp")
    with pytest.raises(images.ImageError, match="web: cannot copy /app/static"):
        images.gather_static(sample_plan(), "abc123", tmp_path / "s", root=tmp_path, run=docker)
    assert docker.commands[-1] == ["docker", "rm", "c0ffee"]  # the container is removed


def test_static_files_of_an_image_not_built_come_from_the_directory(tmp_path: Path) -> None:
    plan = sample_plan()
    plan = type(plan)(**{**plan.__dict__, "workloads": plan.workloads[1:]})  # web not built
    (tmp_path / "services/web/static").mkdir(parents=True)
    (tmp_path / "services/web/static/site.css").write_text("x")
    docker = FakeDocker()
    images.gather_static(plan, "abc123", tmp_path / "out", root=tmp_path, run=docker)
    assert docker.commands == []
    assert (tmp_path / "out/web/site.css").read_text() == "x"
