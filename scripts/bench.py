"""Benchmark: synth times against a minimal CDK app, and the test suite against one synth.

Usage: python -m scripts.bench [--runs N] [--stage NAME] [--workers N] [--skip-tests]
                               [--skip-linters]
       python -m scripts.bench --profile      (where the time goes: imports, stacks)
       (or `make bench`, `make bench PROFILE=1`)

Every app runs as `python app.py` with the env the CDK CLI gives an app: CDK_OUTDIR (a fresh
temp dir) and CDK_CONTEXT_JSON (cdk.json's context + cdk.context.json, for every app alike),
so each timing includes Python's start, jsii's Node start and the CDK's import. Measured
side by side: each round runs every case once, in the same order, so a busy machine slows
all cases alike; the first round is a warm-up and not counted; times are medians, with the
spread (min-max) and the median of the per-round ratios as the noise check. Cases:

- the minimal one-bucket app (the unit of every ratio);
- the whole app, over config/ (3 environments) and over config/ plus a copy of each
  shipped environment (6; the copies differ in name, account, CIDR and DNS names);
- one environment selected on its own (`-c stage=Prod`: the largest one), over 3 and 6;
- with --workers N, the whole app of 3 in N worker processes (PLATFORM_SYNTH_WORKERS).

Each run's assembly is checked for exactly the stages it should hold. Then the test suite
once (pytest alone), and the linters `make test` runs, each timed apart. It reports, it does
not gate: exit code 0 whenever every command succeeded, 1 if one failed (its output's tail
is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
WHOLE_TARGET = 3.0  # whole app / minimal app
STAGE_TARGET = 2.0  # one environment / minimal app
TESTS_TARGET = 2.0  # test suite / whole app (3 environments)
DEFAULT_STAGE = "Prod"
OUTPUT_TAIL_LINES = 30

MINIMAL_APP = """\
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "BenchMinimal")
s3.Bucket(stack, "Bucket")
app.synth()
"""


class CommandFailedError(Exception):
    """A benchmarked command exited non-zero, or wrote the wrong assembly."""


def _base_env() -> dict[str, str]:
    """The caller's env with the pinned Node/CDK CLI and the venv first on PATH (as make
    does), without the variables a CDK CLI run or a profile would have left."""
    dropped = ("CDK_OUTDIR", "CDK_CONTEXT_JSON", "PLATFORM_CONFIG", "PLATFORM_SYNTH_WORKERS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    path = [str(ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    return env


def _context() -> dict[str, Any]:
    """The context the CDK CLI passes: cdk.json's "context", overlaid by cdk.context.json."""
    context: dict[str, Any] = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
    saved = ROOT / "cdk.context.json"
    if saved.exists():
        context.update(json.loads(saved.read_text()))
    return context


def _run(cmd: Sequence[str], env: Mapping[str, str]) -> tuple[float, str]:
    """Run `cmd` from the repo root: (wall seconds, output), or raise with its output's tail."""
    start = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 -- fixed argv, no shell
        list(cmd), cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        output = (proc.stdout or "") + (proc.stderr or "")
        tail = "\n".join(output.splitlines()[-OUTPUT_TAIL_LINES:])
        raise CommandFailedError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return elapsed, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- environments


def _renamed(value: Any, replace: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _renamed(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, replace) for v in value]
    return replace(value) if isinstance(value, str) else value


def six_environments(target: Path) -> Path:
    """config/ plus a copy of each shipped environment (`<Stage>Copy`: its own account,
    CIDR, DNS names and GitHub environment, so every cross-environment rule still holds)."""
    shutil.copytree(CONFIG, target, ignore=shutil.ignore_patterns("*.py", "__*", "*.json"))
    for path in sorted(CONFIG.glob("*.yaml")):
        if path.name == "defaults.yaml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        account = str(data["account"])
        copy_account = f"{int(account) + 1000:012d}"

        def replace(text: str, account: str = account, copy_account: str = copy_account) -> str:
            return (
                text.replace(account, copy_account)
                .replace(".example.com", ".copy.example.com")
                .replace("@example.com", "@copy.example.com")
            )

        copy = _renamed(data, replace)
        copy["stage_name"] = f"{data['stage_name']}Copy"
        first, second, rest = str(data["network"]["cidr"]).split(".", 2)
        copy["network"]["cidr"] = f"{first}.{int(second) + 100}.{rest}"
        github = (copy.get("pipeline") or {}).get("github_actions") or {}
        if github.get("environment"):
            github["environment"] = f"{github['environment']}-copy"
        (target / f"{path.stem}-copy.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
    return target


def _stage_names(config_dir: Path) -> list[str]:
    names = []
    for path in sorted(config_dir.glob("*.yaml")):
        if path.name != "defaults.yaml":
            names.append(str(yaml.safe_load(path.read_text(encoding="utf-8"))["stage_name"]))
    return names


# --------------------------------------------------------------------------- timings


@dataclass
class Case:
    """One benchmarked app: its command, env, and the stages its assembly must hold."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    stages: list[str]
    times: list[float] = field(default_factory=list)

    def run(self) -> float:
        with tempfile.TemporaryDirectory(prefix="bench-cdk-out-") as outdir:
            elapsed, _ = _run(self.cmd, {**self.env, "CDK_OUTDIR": outdir})
            _check_assembly(Path(outdir), self.stages, self.name)
        return elapsed

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def _check_assembly(outdir: Path, stages: Sequence[str], name: str) -> None:
    """The run built what it claims: exactly `stages` (none: the minimal app's stack)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    built = [
        a["properties"]["displayName"]
        for a in manifest["artifacts"].values()
        if a["type"] == "cdk:cloud-assembly"
    ]
    if sorted(built) != sorted(stages):
        raise CommandFailedError(f"{name}: the assembly holds the stages {built}, not {stages}")


def _cases(
    tmp: Path, context: dict[str, Any], env: dict[str, str], stage: str, workers: int | None
) -> list[Case]:
    minimal_app = tmp / "minimal" / "app.py"
    minimal_app.parent.mkdir()
    minimal_app.write_text(MINIMAL_APP)
    six = six_environments(tmp / "six")
    app = [sys.executable, str(ROOT / "app.py")]

    def app_env(config: Path, selected: str | None = None, **extra: str) -> dict[str, str]:
        ctx = {**context, "stage": selected} if selected else context
        return {**env, "PLATFORM_CONFIG": str(config), "CDK_CONTEXT_JSON": json.dumps(ctx), **extra}

    minimal_env = {**env, "CDK_CONTEXT_JSON": json.dumps(context)}
    three_names, six_names = _stage_names(CONFIG), _stage_names(six)
    if stage not in three_names:
        raise CommandFailedError(f"--stage {stage}: not a stage of config/ ({three_names})")
    cases = [
        Case("minimal app (1 bucket)", [sys.executable, str(minimal_app)], minimal_env, []),
        Case("whole app, 3 environments", app, app_env(CONFIG), three_names),
        Case("whole app, 6 environments", app, app_env(six), six_names),
        Case(f"{stage} alone, of 3", app, app_env(CONFIG, stage), [stage]),
        Case(f"{stage} alone, of 6", app, app_env(six, stage), [stage]),
    ]
    if workers:
        workers_env = app_env(CONFIG, PLATFORM_SYNTH_WORKERS=str(workers))
        cases.append(Case(f"whole app, 3, {workers} workers", app, workers_env, three_names))
    return cases


def _spread(case: Case) -> str:
    return f"{min(case.times):.2f}-{max(case.times):.2f}"


def _per_round_ratio(case: Case, unit: Case) -> float:
    return statistics.median(a / b for a, b in zip(case.times, unit.times, strict=True))


def _verdict(ratio: float, target: float) -> str:
    return "OK" if ratio <= target else "OVER"


def _time_tests(env: dict[str, str], skip_linters: bool) -> list[tuple[str, float]]:
    pytest_env = {k: v for k, v in env.items() if k != "CDK_CONTEXT_JSON"}
    timings = [
        (
            "test suite (pytest alone)",
            _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], pytest_env)[0],
        )
    ]
    if skip_linters:
        return timings
    assembly = ROOT / "build" / "test-assembly"
    templates = sorted(str(p) for p in assembly.glob("assembly-*/*.template.json"))
    venv = Path(sys.executable).parent
    linters = [
        ("ruff check", [str(venv / "ruff"), "check", "."]),
        ("ruff format --check", [str(venv / "ruff"), "format", "--check", "."]),
        ("mypy (strict)", [str(venv / "mypy"), "."]),
        (
            "cfn-lint",
            [str(venv / "cfn-lint"), "--non-zero-exit-code", "informational", "--", *templates],
        ),
    ]
    checkov = ROOT / ".venv" / "checkov" / "bin" / "checkov"
    if checkov.exists():
        linters.append(
            ("checkov", [str(checkov), "--config-file", ".checkov.yaml", "-f", *templates])
        )
    for name, cmd in linters:
        timings.append((name, _run(cmd, pytest_env)[0]))
    return timings


def bench(args: argparse.Namespace) -> int:
    env = _base_env()
    context = _context()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        cases = _cases(Path(tmp), context, env, args.stage, args.workers)
        print(f"runs per case: {args.runs} (median; 1 warm-up round not counted), side by side")
        for round_index in range(args.runs + 1):
            elapsed = [case.run() for case in cases]
            if round_index > 0:
                for case, seconds in zip(cases, elapsed, strict=True):
                    case.times.append(seconds)
            label = "warm-up" if round_index == 0 else f"round {round_index}/{args.runs}"
            print(f"  {label}: " + ", ".join(f"{s:.1f}" for s in elapsed), flush=True)
    tests = [] if args.skip_tests else _time_tests(env, args.skip_linters)

    unit, whole3, whole6, stage3, stage6 = cases[:5]
    print(f"\n{'measure':<34} {'median':>8} {'spread':>12} {'x minimal':>10}  target")
    print("-" * 80)
    for case in cases:
        ratio = case.median / unit.median
        target = {whole3.name: WHOLE_TARGET, stage3.name: STAGE_TARGET}.get(case.name)
        shown = f"<= {target:.1f}x {_verdict(ratio, target)}" if target else ""
        noise = f"(per round {_per_round_ratio(case, unit):.2f}x)" if case is not unit else ""
        print(
            f"{case.name:<34} {case.median:>7.2f}s {_spread(case):>12} {ratio:>9.2f}x  "
            f"{shown} {noise}".rstrip()
        )
    print(
        f"{'  one environment, 6 vs 3':<34} {stage6.median / stage3.median:>8.2f}x"
        f"{'':>24}(flat: ~1.0x; the whole app: {whole6.median / whole3.median:.2f}x)"
    )
    if tests:
        (name, suite), *linters = tests
        ratio = suite / whole3.median
        print(
            f"{name:<34} {suite:>7.2f}s {'1 run':>12} {ratio:>9.2f}x  "
            f"<= {TESTS_TARGET:.1f}x of the whole app (3) {_verdict(ratio, TESTS_TARGET)}"
        )
        for linter, seconds in linters:
            print(f"  {linter:<32} {seconds:>7.2f}s {'1 run':>12}")
    return 0


# --------------------------------------------------------------------------- profile

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _import_profile(env: dict[str, str]) -> None:
    """`python -X importtime` of what app.py imports to build a stage, by top-level package
    (self times: a `*._jsii` module's include starting Node and loading its jsii assembly)."""
    code = "import app, synthesis.node, os; synthesis.node.use_synth_node(os.environ); " + (
        "import stacks.application"
    )
    proc = subprocess.run(  # noqa: S603 -- fixed argv, no shell
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CommandFailedError(f"import profile failed:\n{proc.stderr[-3000:]}")
    by_package: dict[str, float] = defaultdict(float)
    modules: list[tuple[float, str]] = []
    total = 0.0
    for line in proc.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        self_us, cumulative_us, indent, module = match.groups()
        by_package[module.split(".")[0]] += int(self_us) / 1e6
        modules.append((int(self_us) / 1e6, module))
        if not indent.strip(" ") and len(indent) == 1:
            total += int(cumulative_us) / 1e6
    print(f"imports (python -X importtime): {total:.2f} s in all")
    for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {package:<28} {seconds:6.2f} s")
    print("  slowest modules (self):")
    for seconds, module in sorted(modules, reverse=True)[:8]:
        print(f"    {module:<40} {seconds:6.2f} s")


def _stack_profile(env: dict[str, str], stage: str) -> None:
    """One stage built alone in a fresh process (as `-c stage=<stage>` does), timed stack by
    stack, then its synth; from `python -m scripts.bench --profile-worker`."""
    # CDK's own performance counters, which it writes where CDK_PERF_COUNTERS_FILE says when
    # a synth is slower than the threshold (0: always); they change nothing in the output.
    context = {**_context(), SLOW_SYNTH_THRESHOLD: 0}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        _, output = _run(
            [sys.executable, "-m", "scripts.bench", "--profile-worker", stage],
            {
                **env,
                "CDK_OUTDIR": str(Path(tmp) / "cdk.out"),
                "CDK_CONTEXT_JSON": json.dumps(context),
                PERF_COUNTERS_ENV: str(Path(tmp) / "counters.json"),
            },
        )
    print(output.rstrip())


@contextmanager
def _timed_stacks() -> Iterator[list[tuple[str, float]]]:
    """Times every `PlatformStack` subclass's constructor (the stack's constructs, and the
    jsii calls behind them): the constructors are wrapped while the block runs."""
    from stacks import platform_stage  # noqa: PLC0415 - only in the profile worker
    from stacks.base import PlatformStack  # noqa: PLC0415

    del platform_stage  # imported for its stack modules: every subclass is defined now
    timings: list[tuple[str, float]] = []
    originals = {cls: cls.__init__ for cls in PlatformStack.__subclasses__()}

    def wrap(cls: type[PlatformStack], original: Callable[..., None]) -> Callable[..., None]:
        def timed(self: PlatformStack, *args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            original(self, *args, **kwargs)
            timings.append((self.node.id, time.perf_counter() - start))

        return timed

    for cls, original in originals.items():
        cls.__init__ = wrap(cls, original)  # type: ignore[method-assign]
    try:
        yield timings
    finally:
        for cls, original in originals.items():
            cls.__init__ = original  # type: ignore[method-assign]


def profile_worker(stage: str) -> int:
    """Build and synthesize `stage` alone in this process, printing where the time went."""
    started = time.perf_counter()
    import app  # noqa: PLC0415 - timed

    environments = app.load(app.config_dirs(os.environ.get(app.CONFIG_VARIABLE)))
    configs = [env.config for env in environments]
    config_done = time.perf_counter()
    from synthesis.node import use_synth_node  # noqa: PLC0415

    use_synth_node(os.environ)
    from synthesis import template_checks  # noqa: PLC0415

    # As app.py: the engine starts in Node while the app's modules are imported.
    checks = template_checks.create(os.environ)
    imported = time.perf_counter()
    from stacks.application import build_app  # noqa: PLC0415 - imported by create()

    with _timed_stacks() as timings:
        cdk_app = build_app(configs, stages=[stage], template_checks=checks)
    built = time.perf_counter()
    cdk_app.synth()
    done = time.perf_counter()
    outdir = Path(os.environ["CDK_OUTDIR"])
    resources = _resources_by_stack(outdir / f"assembly-{stage}")
    print(f"{stage} alone, one fresh process: {done - started:.2f} s")
    print(f"  python start to configs loaded   {config_done - started:6.2f} s")
    print(f"  CDK + the app's modules imported {imported - config_done:6.2f} s")
    print("    (the template-check engine starting in Node meanwhile)")
    print(f"  constructs built                 {built - imported:6.2f} s, by stack:")
    for stack, seconds in timings:
        print(f"    {stack:<14} {seconds:6.2f} s  {resources.get(stack, 0):4d} resources")
    print(f"  app.synth()                      {done - built:6.2f} s")
    counters_file = Path(os.environ.get(PERF_COUNTERS_ENV, ""))
    if counters_file.is_file():
        counters = json.loads(counters_file.read_text())["counters"]
        print("  CDK's own counters (Node side):")
        for key, label in _COUNTERS:
            if key in counters:
                calls = counters.get(f"{key}(cnt)", 1)
                shown = f" ({calls} calls)" if calls > 1 else ""
                print(f"    {label:<46} {counters[key] / 1000:6.2f} s{shown}")
    return 0


PERF_COUNTERS_ENV = "CDK_PERF_COUNTERS_FILE"
SLOW_SYNTH_THRESHOLD = "@aws-cdk/core.slowSynthThreshold"
_COUNTERS = (
    ("phase:Load", "Node start to App (CDK's load)"),
    ("phase:Construction", "App to synth (constructs)"),
    ("phase:Synthesis", "synth"),
    ("validateTemplates", "  validation (nag, checks; engine unless early)"),
    ("CloudFormationValidate.validate", "    the template checks themselves"),
    ("Stack.resolve", "  token resolution"),
    ("fs.readSync", "Node waiting for Python (jsii's pipe)"),
)


def _resources_by_stack(stage_dir: Path) -> dict[str, int]:
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    counts = {}
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "aws:cloudformation:stack":
            template = json.loads((stage_dir / artifact["properties"]["templateFile"]).read_text())
            counts[artifact["displayName"].split("/", 1)[1]] = len(template.get("Resources", {}))
    return counts


def _minimal_profile(env: dict[str, str]) -> None:
    """The minimal app's own counters: the floor every CDK process of this app pays."""
    context = {**_context(), SLOW_SYNTH_THRESHOLD: 0}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        app = Path(tmp) / "app.py"
        app.write_text(MINIMAL_APP)
        counters_file = Path(tmp) / "counters.json"
        elapsed, _ = _run(
            [sys.executable, str(app)],
            {
                **env,
                "CDK_OUTDIR": str(Path(tmp) / "cdk.out"),
                "CDK_CONTEXT_JSON": json.dumps(context),
                PERF_COUNTERS_ENV: str(counters_file),
            },
        )
        counters = json.loads(counters_file.read_text())["counters"]
    print(f"minimal app (1 bucket), one fresh process: {elapsed:.2f} s; CDK's counters:")
    for key, label in _COUNTERS:
        if key in counters:
            print(f"    {label:<46} {counters[key] / 1000:6.2f} s")


def profile(args: argparse.Namespace) -> int:
    env = _base_env()
    _import_profile(env)
    print()
    _minimal_profile(env)
    for stage in args.profile_stages or _stage_names(CONFIG):
        print()
        _stack_profile(env, stage)
    return 0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--stage", default=DEFAULT_STAGE, help="the environment built alone")
    parser.add_argument("--workers", type=int, help="also time the whole app in N workers")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    parser.add_argument("--skip-linters", action="store_true", help="do not time the linters")
    parser.add_argument("--profile", action="store_true", help="where the time goes instead")
    parser.add_argument("--profile-stages", nargs="*", help="stages to profile (default all)")
    parser.add_argument("--profile-worker", metavar="STAGE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.workers is not None and args.workers < 2:
        parser.error("--workers must be at least 2")
    if args.profile_worker:
        return profile_worker(args.profile_worker)
    node = subprocess.run(  # noqa: S603 -- fixed argv, no shell
        [shutil.which("node", path=_base_env()["PATH"]) or "node", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"Python {sys.version.split()[0]} | Node {node} | aws-cdk-lib {version('aws-cdk-lib')} "
        f"| {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    try:
        return profile(args) if args.profile else bench(args)
    except (CommandFailedError, FileNotFoundError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
