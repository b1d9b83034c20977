"""Tests for ``python -m release_tools.step``: each GitHub Actions step runs the shared
module CodePipeline's action of that name runs, with the same arguments, from the plan."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from l3_constructs.pipeline_specs import smoke_command
from release_tools import step
from tests.pipeline.plans import REGISTRY, sample_plan

SHA = "0123456789abcdef0123456789abcdef01234567"


class Modules(dict[str, Any]):
    """Fake `main(argv)` of each module: records (module, argv); answers `codes[module]`."""

    def __init__(self, codes: Mapping[str, int] | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        codes = codes or {}
        for name in ("publish_static", "migrate", "invalidate", "smoke"):
            self[name] = self._main(name, codes.get(name, 0))

    def _main(self, name: str, code: int) -> Any:
        def main(argv: list[str]) -> int:
            self.calls.append((name, argv))
            return code

        return main


class Parallel:
    def __init__(self, codes: Mapping[str, int] | None = None) -> None:
        self.commands: dict[str, list[str]] = {}
        self._codes = codes or {}

    def __call__(self, commands: Mapping[str, list[str]]) -> dict[str, int]:
        self.commands = dict(commands)
        return {name: self._codes.get(name, 0) for name in commands}


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(sample_plan().to_json())
    return path


def run(plan_file: Path, *argv: str, **injected: Any) -> int:
    return step.main(["--plan", str(plan_file), *argv], **injected)


def test_publish_uploads_each_prefix_and_says_when_it_began(
    plan_file: Path, tmp_path: Path
) -> None:
    modules, output = Modules(), tmp_path / "github-output"
    at = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    code = run(
        plan_file,
        "publish",
        "--static-dir",
        ".release/static",
        modules=modules,
        environ={"GITHUB_OUTPUT": str(output)},
        now=lambda: at,
    )
    assert code == 0
    assert modules.calls == [
        (
            "publish_static",
            [
                "--phase",
                "upload",
                "--bucket",
                "test-static-bucket",
                "--region",
                "us-east-1",
                "--prefix",
                "_next/static",
                "--directory",
                ".release/static/web",
            ],
        )
    ]
    assert output.read_text() == "published-at=2024-05-01T12:00:00Z\n"


def test_retire_keeps_what_later_releases_uploaded(plan_file: Path) -> None:
    modules = Modules()
    keep = "2024-05-01T12:00:00Z"
    argv = ("retire", "--static-dir", "s", "--keep-since", keep)
    assert run(plan_file, *argv, modules=modules) == 0
    ((module, called),) = modules.calls
    assert module == "publish_static"
    assert called[:2] == ["--phase", "retire"]
    assert called[-2:] == ["--keep-since", keep]


def test_migrate_runs_the_new_image_of_the_migrations_workload(plan_file: Path) -> None:
    modules = Modules({"migrate": 1})
    assert run(plan_file, "migrate", "--tag", SHA, modules=modules) == 1  # its exit code
    assert modules.calls == [
        (
            "migrate",
            [
                "--stage",
                "Test",
                "--stack-name",
                "Test-Compute",
                "--image",
                f"{REGISTRY}/test-api-repo:{SHA}",
                "--timeout",
                "900",
            ],
        )
    ]


def test_deploy_releases_every_workload_at_once(plan_file: Path) -> None:
    parallel = Parallel()
    assert run(plan_file, "deploy", "--tag", SHA, parallel=parallel) == 0
    assert parallel.commands == {
        name: [
            "--cluster",
            "Test-Compute-Cluster",
            "--service",
            f"Test-Compute-{name}Service",
            "--container",
            "app",
            "--repository-uri",
            f"{REGISTRY}/test-{name}-repo",
            "--tag",
            SHA,
            "--parameter",
            f"/Test/release/{name}-image-tag",
            "--timeout",
            "1800",
        ]
        for name in ("web", "api")
    } | {
        # A job: register only (its next run starts the family's latest revision).
        "cleanup": [
            "--task-definition-family",
            "TestComputecleanupTaskDefinition",
            "--container",
            "app",
            "--repository-uri",
            f"{REGISTRY}/test-cleanup-repo",
            "--tag",
            SHA,
            "--parameter",
            "/Test/release/cleanup-image-tag",
        ]
    }


def test_a_failed_workload_fails_the_deploy(
    plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(plan_file, "deploy", "--tag", SHA, parallel=Parallel({"api": 1})) == 1
    assert "deploy failed: api" in capsys.readouterr().err


def test_invalidate_uses_one_reference_per_run_attempt(plan_file: Path) -> None:
    modules = Modules()
    environ = {"GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}
    assert run(plan_file, "invalidate", modules=modules, environ=environ) == 0
    assert modules.calls == [
        (
            "invalidate",
            ["--distribution-id", "E2QWRUHAPOMQZL", "--path", "/", "--reference", "github-42-2"],
        )
    ]


def test_smoke_gets_the_same_arguments_as_codepipelines_action(plan_file: Path) -> None:
    modules = Modules()
    assert run(plan_file, "smoke", modules=modules) == 0
    ((module, argv),) = modules.calls
    plan = sample_plan()
    codebuild = smoke_command(plan.smoke.urls, plan.smoke.attempts, plan.smoke.interval_seconds)
    assert shlex.split(codebuild)[3:] == argv
    assert module == "smoke"


def test_steps_without_anything_to_do_succeed(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(sample_plan(migration=None, static=None, invalidation=None).to_json())
    modules = Modules()
    for argv in (
        ["publish", "--static-dir", "s"],
        ["migrate", "--tag", SHA],
        ["invalidate"],
        ["retire", "--static-dir", "s", "--keep-since", "2024-05-01T12:00:00Z"],
    ):
        assert run(path, *argv, modules=modules) == 0
    assert modules.calls == []


def test_build_prepare_bakes_only_the_missing_images(plan_file: Path, tmp_path: Path) -> None:
    class Ecr:
        def get_authorization_token(self) -> dict[str, Any]:
            return {"authorizationData": [{"authorizationToken": "QVdTOnB3"}]}  # AWS:pw

        def describe_images(self, repositoryName: str, **_: Any) -> dict[str, Any]:  # noqa: N803
            if repositoryName == "test-web-repo":
                return {}
            raise step_client_error("ImageNotFoundException")

    def docker(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 0, "", "")

    bake, output = tmp_path / ".release" / "bake.json", tmp_path / "out"
    code = run(
        plan_file,
        "build-prepare",
        "--tag",
        SHA,
        "--bake-file",
        str(bake),
        ecr=Ecr(),
        run=docker,
        environ={"GITHUB_OUTPUT": str(output)},
        root=tmp_path,
    )
    assert code == 0
    assert list(json.loads(bake.read_text())["target"]) == ["api", "cleanup"]
    assert output.read_text() == "build=true\ntargets=api,cleanup\n"


def step_client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # noqa: PLC0415

    error: Exception = ClientError({"Error": {"Code": code, "Message": code}}, "DescribeImages")
    return error


def test_a_missing_plan_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert step.main(["--plan", str(tmp_path / "none.json"), "smoke"]) == 2
    assert "smoke: cannot read the plan" in capsys.readouterr().err


def test_parallel_prefixes_each_line_and_returns_every_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real runner, with a stand-in for `python -m release_tools.release`."""
    real_popen = subprocess.Popen

    def popen(argv: list[str], **kwargs: Any) -> Any:
        assert argv[:3] == [sys.executable, "-m", "release_tools.release"]
        script = f"print('released', {argv[3]!r}); raise SystemExit({argv[4]})"
        return real_popen([sys.executable, "-c", script], **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    codes = step.run_parallel({"web": ["web", "0"], "api": ["api", "1"]})
    assert codes == {"web": 0, "api": 1}
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines == ["[api] released api", "[web] released web"]


def test_every_argv_is_one_the_shared_module_accepts() -> None:
    """The arguments parse with each module's own parser (a flag CodePipeline's buildspecs
    pass under the same name): a renamed flag fails here, not in a release."""
    from release_tools import (  # noqa: PLC0415
        invalidate,
        migrate,
        publish_static,
        release,
        smoke,
    )

    plan = sample_plan()
    for argv in step.publish_argv(plan, Path("s")):
        assert publish_static._parse_args(argv).phase == "upload"
    for argv in step.publish_argv(plan, Path("s"), keep_since="2024-05-01T12:00:00Z"):
        assert publish_static._parse_args(argv).keep_since == "2024-05-01T12:00:00Z"
    migrate_argv = step.migrate_argv(plan, SHA)
    assert migrate_argv is not None
    assert migrate._parse_args(migrate_argv).image.endswith(f":{SHA}")
    parsed = {n: release._parse_args(a) for n, a in step.release_argv(plan, SHA).items()}
    assert parsed["cleanup"].task_definition_family == "TestComputecleanupTaskDefinition"
    assert parsed["web"].timeout == 1800
    invalidate_argv = step.invalidate_argv(plan, "ref")
    assert invalidate_argv is not None
    assert invalidate._parse_args(invalidate_argv).paths == ["/"]
    assert smoke._parse_args(step.smoke_argv(plan)).urls == list(plan.smoke.urls)
