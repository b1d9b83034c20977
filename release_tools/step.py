"""One step of a release from GitHub Actions, from the plan `release_tools.plan` wrote.

Usage: python -m release_tools.step --plan .release/plan.json STEP [options]

  build-prepare --tag SHA --bake-file F   docker login; the bake file of the workloads whose
                                          <SHA> image is missing (outputs build, targets)
  build-finish  --tag SHA --static-dir D  <env>-latest onto every <SHA> image; the static
                                          files out of the new images (or directories) into D
  publish       --static-dir D            release_tools.publish_static --phase upload, each
                                          prefix (output published-at: when it began)
  migrate       --tag SHA                 release_tools.migrate with the new image of the
                                          migration's workload
  deploy        --tag SHA                 release_tools.release, every workload in parallel
  invalidate    [--reference R]           release_tools.invalidate
  retire        --static-dir D --keep-since T
                                          release_tools.publish_static --phase retire
  smoke                                   release_tools.smoke, every web route

Each step runs the same module, with the same arguments, as CodePipeline's CodeBuild action
of that name: one implementation for both providers. A step the plan has nothing for (no
migration, static files or invalidation) says so and succeeds. Outputs (`name=value`) go to
the file `$GITHUB_OUTPUT` names, when it is set.

Exit codes: those of the module run (0 done; 1 failed; 2 bad input, nothing changed); deploy:
1 if any workload's release failed (each runs to its end).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from release_tools.plan import PlanError, ReleasePlan, load

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2

#: A release_tools module's `main(argv)`.
Main = Callable[[list[str]], int]
#: Runs `{name: argv of release_tools.release}` in parallel; returns each exit code.
Parallel = Callable[[Mapping[str, list[str]]], dict[str, int]]


def _say(message: str) -> None:
    print(message, flush=True)


def output(name: str, value: str, environ: Mapping[str, str]) -> None:
    """A step output: appended to `$GITHUB_OUTPUT`, else printed."""
    line = f"{name}={value}"
    path = environ.get("GITHUB_OUTPUT")
    if path:
        with Path(path).open("a", encoding="utf-8") as file:
            file.write(f"{line}\n")
    else:
        _say(line)


# --- Arguments of the shared modules (as CodePipeline's buildspecs pass them) --------------------


def publish_argv(
    plan: ReleasePlan, static_dir: Path, *, keep_since: str | None = None
) -> list[list[str]]:
    """`release_tools.publish_static`, per static prefix: upload, or retire (`keep_since`)."""
    if plan.static is None:
        return []
    phase = "upload" if keep_since is None else "retire"
    commands = []
    for static in plan.static.files:
        argv = [
            "--phase",
            phase,
            "--bucket",
            plan.static.bucket,
            "--region",
            plan.static.region,
            "--prefix",
            static.prefix,
            "--directory",
            str(static_dir / static.service),
        ]
        if keep_since is not None:
            argv += ["--keep-since", keep_since]
        commands.append(argv)
    return commands


def migrate_argv(plan: ReleasePlan, tag: str) -> list[str] | None:
    if plan.migration is None:
        return None
    workload = plan.workload(plan.migration.workload)
    return [
        "--stage",
        plan.stage_name,
        "--stack-name",
        plan.compute_stack,
        "--image",
        f"{workload.repository_uri}:{tag}",
        "--timeout",
        str(plan.migration.timeout_seconds),
    ]


def release_argv(plan: ReleasePlan, tag: str) -> dict[str, list[str]]:
    """`release_tools.release` per workload: a service's update (and wait), or a job's
    register-only."""
    commands = {}
    for workload in plan.workloads:
        target = (
            ["--cluster", plan.cluster, "--service", workload.service]
            if workload.service is not None
            else ["--task-definition-family", workload.family]
        )
        argv = [
            *target,
            "--container",
            workload.container,
            "--repository-uri",
            workload.repository_uri,
            "--tag",
            tag,
            "--parameter",
            workload.parameter,
        ]
        if workload.service is not None:
            argv += ["--timeout", str(plan.deploy_timeout_seconds)]
        commands[workload.name] = argv
    return commands


def invalidate_argv(plan: ReleasePlan, reference: str) -> list[str] | None:
    if plan.invalidation is None:
        return None
    paths = [arg for path in plan.invalidation.paths for arg in ("--path", path)]
    return [
        "--distribution-id",
        plan.invalidation.distribution_id,
        *paths,
        "--reference",
        reference,
    ]


def smoke_argv(plan: ReleasePlan) -> list[str]:
    smoke = plan.smoke
    urls = [arg for url in smoke.urls for arg in ("--url", url)]
    return [
        *urls,
        "--attempts",
        str(smoke.attempts),
        "--interval",
        str(smoke.interval_seconds),
        "--timeout",
        str(smoke.timeout_seconds),
    ]


def reference(environ: Mapping[str, str]) -> str:
    """The invalidation's caller reference: one per workflow run attempt (a retried request
    of the same attempt is not invalidated twice)."""
    run_id = environ.get("GITHUB_RUN_ID")
    if run_id:
        return f"github-{run_id}-{environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return f"release-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"


# --- Running them ------------------------------------------------------------------------------


def _modules() -> dict[str, Main]:
    from release_tools import (  # noqa: PLC0415 - boto3 only where a step needs it
        invalidate,
        migrate,
        publish_static,
        smoke,
    )

    return {
        "publish_static": publish_static.main,
        "migrate": migrate.main,
        "invalidate": invalidate.main,
        "smoke": smoke.main,
    }


def run_parallel(commands: Mapping[str, list[str]]) -> dict[str, int]:
    """`python -m release_tools.release <argv>` per name, at once; every line of output
    prefixed `[name]`. Waits for all."""
    lock = threading.Lock()
    processes = {
        name: subprocess.Popen(  # noqa: S603 - our own module, argv from the plan
            [sys.executable, "-m", "release_tools.release", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, argv in commands.items()
    }

    def relay(name: str, stream: IO[str]) -> None:
        for line in stream:
            with lock:
                _say(f"[{name}] {line.rstrip()}")

    threads = []
    for name, process in processes.items():
        assert process.stdout is not None
        thread = threading.Thread(target=relay, args=(name, process.stdout))
        thread.start()
        threads.append(thread)
    codes = {name: process.wait() for name, process in processes.items()}
    for thread in threads:
        thread.join()
    return codes


class Steps:
    """The steps, with what they call injectable (tests pass fakes)."""

    def __init__(
        self,
        plan: ReleasePlan,
        *,
        modules: Mapping[str, Main] | None = None,
        parallel: Parallel = run_parallel,
        ecr: Any = None,
        run: Any = subprocess.run,
        environ: Mapping[str, str] = os.environ,
        root: Path | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.plan = plan
        self._modules = modules
        self._parallel = parallel
        self._ecr = ecr
        self._run = run
        self._environ = environ
        self._root = root or Path.cwd()
        self._now = now

    def module(self, name: str) -> Main:
        modules = self._modules if self._modules is not None else _modules()
        return modules[name]

    def ecr(self) -> Any:
        if self._ecr is None:
            import boto3  # type: ignore[import-untyped]  # noqa: PLC0415

            self._ecr = boto3.client("ecr")
        return self._ecr

    def build_prepare(self, tag: str, bake_file: Path) -> int:
        from release_tools import images  # noqa: PLC0415

        plan = self.plan
        images.login(self.ecr(), plan.registry, run=self._run)
        build = images.missing(self.ecr(), plan.workloads, tag)
        bake_file.parent.mkdir(parents=True, exist_ok=True)
        bake_file.write_text(
            json.dumps(images.bake_definition(build, tag, plan.platform, self._root), indent=2)
            + "\n",
            encoding="utf-8",
        )
        names = [w.name for w in build]
        _say(f"to build: {', '.join(names) or 'nothing (every image exists)'}")
        output("build", "true" if names else "false", self._environ)
        output("targets", ",".join(names), self._environ)
        return EXIT_OK

    def build_finish(self, tag: str, static_dir: Path) -> int:
        from release_tools import images  # noqa: PLC0415

        plan = self.plan
        images.tag_latest(self.ecr(), plan.workloads, tag, plan.latest_tag)
        images.gather_static(plan, tag, static_dir, root=self._root, run=self._run)
        return EXIT_OK

    def publish(self, static_dir: Path) -> int:
        commands = publish_argv(self.plan, static_dir)
        if not commands:
            _say("no static files to publish")
            return EXIT_OK
        # Before the first upload: retire leaves alone what later releases upload after it.
        output("published-at", self._now().strftime("%Y-%m-%dT%H:%M:%SZ"), self._environ)
        return self._each("publish_static", commands)

    def retire(self, static_dir: Path, keep_since: str) -> int:
        commands = publish_argv(self.plan, static_dir, keep_since=keep_since)
        if not commands:
            _say("no static files to retire")
            return EXIT_OK
        return self._each("publish_static", commands)

    def migrate(self, tag: str) -> int:
        argv = migrate_argv(self.plan, tag)
        if argv is None:
            _say("no migration: the release builds no image of migration.service")
            return EXIT_OK
        return self.module("migrate")(argv)

    def deploy(self, tag: str) -> int:
        codes = self._parallel(release_argv(self.plan, tag))
        failed = sorted(name for name, code in codes.items() if code != EXIT_OK)
        if failed:
            print(f"deploy failed: {', '.join(failed)}", file=sys.stderr)
            return EXIT_FAILED
        _say(f"deployed {', '.join(codes)}")
        return EXIT_OK

    def invalidate(self, caller_reference: str | None) -> int:
        argv = invalidate_argv(self.plan, caller_reference or reference(self._environ))
        if argv is None:
            _say("no invalidation paths")
            return EXIT_OK
        return self.module("invalidate")(argv)

    def smoke(self) -> int:
        return self.module("smoke")(smoke_argv(self.plan))

    def _each(self, module: str, commands: list[list[str]]) -> int:
        for argv in commands:
            code = self.module(module)(argv)
            if code != EXIT_OK:
                return code
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.step",
        description="Run one release step from the release plan.",
    )
    parser.add_argument("--plan", required=True, type=Path, help="the plan file")
    steps = parser.add_subparsers(dest="step", required=True)
    for name in ("build-prepare", "build-finish", "migrate", "deploy"):
        step = steps.add_parser(name)
        step.add_argument("--tag", required=True, help="the image tag: the commit SHA")
        if name == "build-prepare":
            step.add_argument("--bake-file", required=True, type=Path)
        if name == "build-finish":
            step.add_argument("--static-dir", required=True, type=Path)
    publish = steps.add_parser("publish")
    publish.add_argument("--static-dir", required=True, type=Path)
    retire = steps.add_parser("retire")
    retire.add_argument("--static-dir", required=True, type=Path)
    retire.add_argument("--keep-since", required=True, help="when publish began (ISO 8601)")
    invalidate = steps.add_parser("invalidate")
    invalidate.add_argument("--reference", help="caller reference (default: the run)")
    steps.add_parser("smoke")
    return parser


def main(argv: list[str] | None = None, **injected: Any) -> int:
    args = _parser().parse_args(argv)
    try:
        plan = load(args.plan)
    except PlanError as exc:
        print(f"{args.step}: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    steps = Steps(plan, **injected)
    from botocore.exceptions import (  # type: ignore[import-untyped]  # noqa: PLC0415
        BotoCoreError,
        ClientError,
    )

    from release_tools.images import ImageError  # noqa: PLC0415

    run: dict[str, Callable[[], int]] = {
        "build-prepare": lambda: steps.build_prepare(args.tag, args.bake_file),
        "build-finish": lambda: steps.build_finish(args.tag, args.static_dir),
        "publish": lambda: steps.publish(args.static_dir),
        "migrate": lambda: steps.migrate(args.tag),
        "deploy": lambda: steps.deploy(args.tag),
        "invalidate": lambda: steps.invalidate(args.reference),
        "retire": lambda: steps.retire(args.static_dir, args.keep_since),
        "smoke": steps.smoke,
    }
    try:
        return run[args.step]()
    except (ImageError, ClientError, BotoCoreError, OSError) as exc:
        print(f"{args.step} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
