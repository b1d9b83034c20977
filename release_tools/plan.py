"""The release plan of an environment released from GitHub Actions, read from its stack.

Usage: python -m release_tools.plan --stack Test-Pipeline --out .release/plan.json [--region R]

The Pipeline stack of a `pipeline.provider: github_actions` environment (`GitHubRelease`)
writes what a release does as stack outputs, made from the same objects CodePipeline's
buildspecs are made from: ``ReleasePlan`` (a JSON document: the cluster, the compute stack,
the migration, static files, invalidation, smoke test) and one ``ReleaseWorkload<i>`` per
workload the release builds (its repository, ECS service or job family, release record).
This reads them back (one ``cloudformation:DescribeStacks``), checks them and writes them as
one JSON file, which every step of the workflow (``release_tools.step``) reads: so the
workflow releases exactly what the deployed stacks hold, never a list of its own.

Exit codes: 0 written; 2 the stack or an output is missing, unreadable or malformed
(nothing was changed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_CONFIG_ERROR = 2

#: Output keys of the Pipeline stack (`stacks/pipeline_stack.py` writes them).
PLAN_OUTPUT = "ReleasePlan"
WORKLOAD_OUTPUT = "ReleaseWorkload{}"
ROLE_OUTPUT = "ReleaseRoleArn"
REGION_OUTPUT = "ReleaseRegion"
#: The GitHub variables the workflow reads them from (`gh variable set`, README).
ROLE_VARIABLE = "AWS_RELEASE_ROLE_ARN"
REGION_VARIABLE = "AWS_RELEASE_REGION"
#: Bumped when the documents change shape: a workflow and a stack of another version refuse.
PLAN_VERSION = 1


class PlanError(Exception):
    """The plan cannot be read or is malformed; the message names the output and the key."""


@dataclass(frozen=True)
class Workload:
    """One workload the release builds into its own repository and deploys."""

    name: str
    #: Docker build context (holds the Dockerfile), relative to the repository root.
    directory: str
    repository_name: str
    repository_uri: str
    #: The ECS service `release_tools.release` updates; None: a job (register only).
    service: str | None
    #: Its task definition family (a job's schedule runs the family's latest revision).
    family: str
    #: The container whose image a release replaces.
    container: str
    #: Its release record (SSM parameter name).
    parameter: str


@dataclass(frozen=True)
class StaticFiles:
    service: str
    #: Key prefix in the static bucket.
    prefix: str
    #: Copied out of the service's new image (when the release builds it) ...
    from_image: str | None
    #: ... else from this directory of the repository.
    directory: str | None


@dataclass(frozen=True)
class Static:
    bucket: str
    #: The bucket's region (the Edge stack's: us-east-1).
    region: str
    files: tuple[StaticFiles, ...]


@dataclass(frozen=True)
class Migration:
    #: The workload whose new image the migration task runs.
    workload: str
    timeout_seconds: int


@dataclass(frozen=True)
class Invalidation:
    distribution_id: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Smoke:
    urls: tuple[str, ...]
    attempts: int
    interval_seconds: int
    timeout_seconds: int


@dataclass(frozen=True)
class ReleasePlan:
    #: What `release_tools.migrate --stage` is given (the stack name is what it uses).
    stage_name: str
    compute_stack: str
    cluster: str
    registry: str
    #: The moving tag every release also pushes, e.g. `test-latest`.
    latest_tag: str
    #: Docker platform of every image, e.g. `linux/arm64`.
    platform: str
    deploy_timeout_seconds: int
    workloads: tuple[Workload, ...]
    migration: Migration | None
    static: Static | None
    invalidation: Invalidation | None
    smoke: Smoke

    def workload(self, name: str) -> Workload:
        for workload in self.workloads:
            if workload.name == name:
                return workload
        raise PlanError(f"no workload {name!r} in the plan")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReleasePlan:
        data = _object(_loads(text, "the plan file"), "the plan file")
        workloads = data.get("workloads")
        if not isinstance(workloads, list):
            raise PlanError("the plan file: 'workloads' must be a list")
        document = {**data, "version": PLAN_VERSION, "workloads": len(workloads)}
        return parse(document, workloads)


def parse(document: Mapping[str, Any], workloads: Sequence[Any]) -> ReleasePlan:
    """The plan from the `ReleasePlan` document and the workload documents, checked."""
    where = PLAN_OUTPUT
    read = _Reader(document, where)
    if read.number("version") != PLAN_VERSION:
        raise PlanError(
            f"output {where}: version {document.get('version')!r} is not {PLAN_VERSION}: "
            "deploy the Pipeline stack of this commit first (cdk deploy), or release a commit "
            "of the stack's version"
        )
    if read.number("workloads") != len(workloads):
        raise PlanError(f"output {where}: 'workloads' does not match the workload outputs")
    parsed = tuple(
        _workload(_object(w, WORKLOAD_OUTPUT.format(i)), WORKLOAD_OUTPUT.format(i))
        for i, w in enumerate(workloads)
    )
    if not parsed:
        raise PlanError(f"output {where}: no workload to release")
    names = [w.name for w in parsed]
    if len(set(names)) != len(names):
        raise PlanError(f"output {where}: workloads named twice: {names}")
    migration = read.optional("migration")
    static = read.optional("static")
    invalidation = read.optional("invalidation")
    smoke = _Reader(read.mapping("smoke"), f"{where}.smoke")
    plan = ReleasePlan(
        stage_name=read.text("stage_name"),
        compute_stack=read.text("compute_stack"),
        cluster=read.text("cluster"),
        registry=read.text("registry"),
        latest_tag=read.text("latest_tag"),
        platform=read.text("platform"),
        deploy_timeout_seconds=read.number("deploy_timeout_seconds"),
        workloads=parsed,
        migration=_migration(migration) if migration is not None else None,
        static=_static(static) if static is not None else None,
        invalidation=_invalidation(invalidation) if invalidation is not None else None,
        smoke=Smoke(
            urls=smoke.texts("urls"),
            attempts=smoke.number("attempts"),
            interval_seconds=smoke.number("interval_seconds"),
            timeout_seconds=smoke.number("timeout_seconds"),
        ),
    )
    if plan.migration is not None:
        migrated = plan.workload(plan.migration.workload)
        if migrated.service is None:
            raise PlanError(f"output {where}: the migration's workload {migrated.name!r} is a job")
    return plan


def from_outputs(outputs: Mapping[str, str]) -> ReleasePlan:
    """The plan from a stack's outputs (OutputKey -> OutputValue)."""
    if PLAN_OUTPUT not in outputs:
        raise PlanError(
            f"no output {PLAN_OUTPUT}: is this the Pipeline stack of an environment with "
            "pipeline.provider github_actions, deployed?"
        )
    document = _object(_loads(outputs[PLAN_OUTPUT], f"output {PLAN_OUTPUT}"), PLAN_OUTPUT)
    count = document.get("workloads")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise PlanError(f"output {PLAN_OUTPUT}: 'workloads' must be a count")
    workloads = []
    for i in range(count):
        key = WORKLOAD_OUTPUT.format(i)
        if key not in outputs:
            raise PlanError(f"no output {key} (output {PLAN_OUTPUT} names {count} workloads)")
        workloads.append(_loads(outputs[key], f"output {key}"))
    return parse(document, workloads)


def read_stack(cfn: Any, stack_name: str) -> ReleasePlan:
    """The plan of the deployed stack `stack_name`."""
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise PlanError(f"cannot read stack {stack_name!r}: {exc}") from exc
    if not stacks:
        raise PlanError(f"stack {stack_name!r} not found")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    try:
        return from_outputs(outputs)
    except PlanError as exc:
        raise PlanError(f"stack {stack_name!r}: {exc}") from exc


def load(path: Path) -> ReleasePlan:
    """The plan file `python -m release_tools.plan --out` wrote."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read the plan {path}: {exc.strerror}") from exc
    return ReleasePlan.from_json(text)


# --- Parsing ------------------------------------------------------------------------------------


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{where} is not JSON: {exc}") from exc


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{where} must be a JSON object")
    return value


class _Reader:
    """Typed access to one JSON object; errors name `where` and the key."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self._data = data
        self._where = where

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise PlanError(f"output {self._where}: {key!r} is missing")
        return self._data[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise PlanError(f"output {self._where}: {key!r} must be a non-empty string")
        return value

    def optional_str(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.text(key)

    def number(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PlanError(f"output {self._where}: {key!r} must be a whole number")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PlanError(f"output {self._where}: {key!r} must be a list of strings")
        return tuple(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        return _object(self._get(key), f"output {self._where}: {key!r}")

    def optional(self, key: str) -> Mapping[str, Any] | None:
        return None if self._data.get(key) is None else self.mapping(key)

    def objects(self, key: str) -> list[Mapping[str, Any]]:
        value = self._get(key)
        if not isinstance(value, list):
            raise PlanError(f"output {self._where}: {key!r} must be a list")
        return [_object(v, f"output {self._where}: {key!r}") for v in value]


def _workload(data: Mapping[str, Any], where: str) -> Workload:
    read = _Reader(data, where)
    return Workload(
        name=read.text("name"),
        directory=read.text("directory"),
        repository_name=read.text("repository_name"),
        repository_uri=read.text("repository_uri"),
        service=read.optional_str("service"),
        family=read.text("family"),
        container=read.text("container"),
        parameter=read.text("parameter"),
    )


def _migration(data: Mapping[str, Any]) -> Migration:
    read = _Reader(data, f"{PLAN_OUTPUT}.migration")
    return Migration(workload=read.text("workload"), timeout_seconds=read.number("timeout_seconds"))


def _static(data: Mapping[str, Any]) -> Static:
    read = _Reader(data, f"{PLAN_OUTPUT}.static")
    files = []
    for item in read.objects("files"):
        entry = _Reader(item, f"{PLAN_OUTPUT}.static.files")
        static = StaticFiles(
            service=entry.text("service"),
            prefix=entry.text("prefix"),
            from_image=entry.optional_str("from_image"),
            directory=entry.optional_str("directory"),
        )
        if static.from_image is None and static.directory is None:
            raise PlanError(f"output {PLAN_OUTPUT}.static: {static.service!r} has no source")
        files.append(static)
    return Static(bucket=read.text("bucket"), region=read.text("region"), files=tuple(files))


def _invalidation(data: Mapping[str, Any]) -> Invalidation:
    read = _Reader(data, f"{PLAN_OUTPUT}.invalidation")
    return Invalidation(distribution_id=read.text("distribution_id"), paths=read.texts("paths"))


# --- Command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None, *, cfn: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.plan",
        description="Write the release plan of a GitHub Actions environment, from its "
        "Pipeline stack's outputs.",
    )
    parser.add_argument("--stack", required=True, help="the Pipeline stack, e.g. Test-Pipeline")
    parser.add_argument("--out", required=True, type=Path, help="where to write the plan")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415

    try:
        if cfn is None:
            import boto3  # type: ignore[import-untyped]  # noqa: PLC0415

            cfn = boto3.client("cloudformation", region_name=args.region)
        plan = read_stack(cfn, args.stack)
    except (PlanError, BotoCoreError) as exc:
        print(f"no release plan: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(plan.to_json() + "\n", encoding="utf-8")
    names = ", ".join(f"{w.name} ({'service' if w.service else 'job'})" for w in plan.workloads)
    print(f"release plan of {plan.stage_name} ({args.stack}) written to {args.out}: {names}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
