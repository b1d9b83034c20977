"""The images of a release from GitHub Actions (`release_tools.step build-prepare` and
`build-finish`): every AWS call of the build goes through here.

- `login`: `docker login` to the environment's ECR registry with a token from
  ``ecr:GetAuthorizationToken`` (the password goes through stdin, never the command line).
- `missing`: the workloads whose ``<tag>`` image is not in their repository yet. Tags are
  immutable (but ``<env>-latest``): a re-run of the same commit reuses what it pushed, as
  CodePipeline's Build does, instead of failing on a second push.
- `bake_definition`: a Docker Buildx bake file building exactly those, one target per
  workload (its directory, the tasks' platform, tag ``<repository>:<tag>``, a GitHub
  Actions cache of its own); `docker/bake-action` builds and pushes it.
- `tag_latest`: ``<env>-latest`` onto every workload's ``<tag>`` image, by copying the
  manifest in ECR (``BatchGetImage`` + ``PutImage``): nothing is pulled or pushed again.
- `gather_static`: each web service's static files, out of its new image (``docker create``
  + ``docker cp``, as CodePipeline's Build does) or from its directory, for `publish_static`.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from release_tools.plan import ReleasePlan, StaticFiles, Workload

#: Runs a command (`subprocess.run`'s signature); tests pass a fake.
Run = Callable[..., subprocess.CompletedProcess[str]]

#: Every manifest type Buildx pushes (an image index with attestations, or a single image).
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


class ImageError(Exception):
    """An image could not be found, tagged or read; the message names which."""


def _say(message: str) -> None:
    print(message, flush=True)


def image(workload: Workload, tag: str) -> str:
    return f"{workload.repository_uri}:{tag}"


def login(ecr: Any, registry: str, *, run: Run = subprocess.run) -> None:
    """`docker login` to `registry` (the account's ECR registry)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    result = run(
        ["docker", "login", "--username", user, "--password-stdin", registry],
        input=password,
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise ImageError(f"docker login to {registry} failed: {result.stderr.strip()}")
    _say(f"logged in to {registry}")


def missing(ecr: Any, workloads: Iterable[Workload], tag: str) -> list[Workload]:
    """The workloads without an image tagged `tag`, in order."""
    absent = []
    for workload in workloads:
        try:
            ecr.describe_images(
                repositoryName=workload.repository_name, imageIds=[{"imageTag": tag}]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ImageNotFoundException":
                raise
            absent.append(workload)
        else:
            _say(f"{image(workload, tag)} exists: reusing it")
    return absent


def bake_definition(
    workloads: Sequence[Workload], tag: str, platform: str, root: Path
) -> dict[str, Any]:
    """A bake file (JSON) building and tagging `workloads`' images. Contexts are absolute
    (`root` / the workload's directory); each target caches in GitHub Actions' cache under a
    scope of its own (the workload's name: stages share a workload's layers)."""
    targets = {
        w.name: {
            "context": str((root / w.directory).resolve()),
            "dockerfile": "Dockerfile",
            "platforms": [platform],
            "tags": [image(w, tag)],
            "cache-from": [f"type=gha,scope={w.name}"],
            "cache-to": [f"type=gha,mode=max,scope={w.name}"],
        }
        for w in workloads
    }
    return {"group": {"default": {"targets": list(targets)}}, "target": targets}


def tag_latest(ecr: Any, workloads: Iterable[Workload], tag: str, latest: str) -> None:
    """Point `latest` (the mutable `<env>-latest`) at each workload's `tag` image."""
    for workload in workloads:
        found = ecr.batch_get_image(
            repositoryName=workload.repository_name,
            imageIds=[{"imageTag": tag}],
            acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES),
        )
        images = found.get("images") or []
        if not images:
            failures = found.get("failures") or [{}]
            reason = failures[0].get("failureReason", "not found")
            raise ImageError(f"{image(workload, tag)}: {reason}")
        manifest = images[0]
        try:
            ecr.put_image(
                repositoryName=workload.repository_name,
                imageManifest=manifest["imageManifest"],
                imageManifestMediaType=manifest["imageManifestMediaType"],
                imageTag=latest,
            )
        except ClientError as exc:
            # The tag already names this manifest (a re-run): nothing to do.
            if exc.response.get("Error", {}).get("Code") != "ImageAlreadyExistsException":
                raise
        _say(f"{image(workload, latest)} -> {image(workload, tag)}")


def gather_static(
    plan: ReleasePlan,
    tag: str,
    out: Path,
    *,
    root: Path,
    run: Run = subprocess.run,
) -> list[Path]:
    """Each web service's static files into `out/<service>/` (emptied first): out of its new
    image when it has `from_image` (and the release builds it), else from its `directory`.
    Raises ImageError if a copy fails or finds no files (a wrong path): nothing is
    published then."""
    if plan.static is None:
        return []
    built = {w.name: w for w in plan.workloads}
    gathered = []
    for static in plan.static.files:
        target = out / static.service
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        source = _copy(
            static,
            built.get(static.service),
            tag=tag,
            platform=plan.platform,
            target=target,
            root=root,
            run=run,
        )
        if not any(target.iterdir()):
            raise ImageError(f"{static.service}: no static files in {source}")
        _say(f"{static.service}: static files of {source} in {target}")
        gathered.append(target)
    return gathered


def _copy(
    static: StaticFiles,
    workload: Workload | None,
    *,
    tag: str,
    platform: str,
    target: Path,
    root: Path,
    run: Run,
) -> str:
    if static.from_image is not None and workload is not None:
        name = image(workload, tag)
        # Created, never started: `true` stands in for an image without a command.
        created = run(
            ["docker", "create", "--platform", platform, name, "true"],
            text=True,
            capture_output=True,
            check=False,
        )
        if created.returncode != 0:
            raise ImageError(f"docker create {name} failed: {created.stderr.strip()}")
        container = created.stdout.strip()
        try:
            copied = run(
                ["docker", "cp", f"{container}:{static.from_image.rstrip('/')}/.", f"{target}/"],
                text=True,
                capture_output=True,
                check=False,
            )
        finally:
            run(["docker", "rm", container], text=True, capture_output=True, check=False)
        source = f"{static.from_image} of {name}"
        if copied.returncode != 0:
            raise ImageError(f"{static.service}: cannot copy {source}: {copied.stderr.strip()}")
        return source
    if static.directory is None:
        raise ImageError(f"{static.service}: from_image of an image this release does not build")
    directory = root / static.directory
    if not directory.is_dir():
        raise ImageError(f"{static.service}: no directory {static.directory}")
    shutil.copytree(directory, target, dirs_exist_ok=True)
    return static.directory
