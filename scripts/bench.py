"""Benchmark: full-app synth vs a minimal one-bucket CDK app, and the test suite vs one synth.

Usage: python -m scripts.bench [--runs N] [--skip-tests]   (or `make bench`)

Both apps run as `python app.py` with the env the CDK CLI gives an app (CDK_OUTDIR, a fresh
temp dir; CDK_CONTEXT_JSON, the context from cdk.json + cdk.context.json), so each timing
includes Python start-up, jsii/Node start-up and the import of aws_cdk. One warm-up run of
each synth is not counted; the reported synth times are medians. It reports, it does not
gate: exit code 0 whenever every subprocess succeeded, 1 if one failed (its stderr tail is
printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SYNTH_TARGET = 3.0  # full synth / minimal synth
TESTS_TARGET = 2.0  # test suite / full synth
STDERR_TAIL_LINES = 30

MINIMAL_APP = """\
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "BenchMinimal")
s3.Bucket(stack, "Bucket")
app.synth()
"""


class SubprocessFailedError(Exception):
    """A benchmarked command exited non-zero."""


def _base_env() -> dict[str, str]:
    """The caller's env with the pinned Node/CDK CLI and the venv first on PATH (as make does)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CDK_OUTDIR", "CDK_CONTEXT_JSON")}
    path = [str(ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    return env


def _context_json() -> str:
    """The context the CDK CLI passes: cdk.json's "context", overlaid by cdk.context.json."""
    context: dict[str, Any] = dict(json.loads((ROOT / "cdk.json").read_text())["context"])
    saved = ROOT / "cdk.context.json"
    if saved.exists():
        context.update(json.loads(saved.read_text()))
    return json.dumps(context)


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    """Run `cmd` from the repo root; the wall time in seconds, or raise with its stderr tail."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603 -- fixed argv, no shell
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-STDERR_TAIL_LINES:])
        raise SubprocessFailedError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return elapsed


def _synth_median(app: Path, runs: int, env: dict[str, str]) -> float:
    """Median wall time of `python <app>` over `runs` runs, after one uncounted warm-up."""
    times: list[float] = []
    for i in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="bench-cdk-out-") as outdir:
            elapsed = _timed([sys.executable, str(app)], {**env, "CDK_OUTDIR": outdir})
        if i > 0:
            times.append(elapsed)
    return statistics.median(times)


def _verdict(ratio: float, target: float) -> str:
    return "OK" if ratio <= target else "OVER"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per synth (median)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    env = {**_base_env(), "CDK_CONTEXT_JSON": _context_json()}
    try:
        node_bin = shutil.which("node", path=env["PATH"])
        if node_bin is None:
            raise SubprocessFailedError("node not found on PATH (run `make setup`)")
        node = subprocess.run(  # noqa: S603 -- fixed argv, no shell
            [node_bin, "--version"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        python = sys.version.split()[0]
        print(f"Python {python} | Node {node} | aws-cdk-lib {version('aws-cdk-lib')}")
        print(f"runs per synth: {args.runs} (median, after 1 warm-up)\n")

        full = _synth_median(ROOT / "app.py", args.runs, env)
        with tempfile.TemporaryDirectory(prefix="bench-minimal-app-") as tmp:
            minimal_app = Path(tmp) / "app.py"
            minimal_app.write_text(MINIMAL_APP)
            minimal = _synth_median(minimal_app, args.runs, env)
        tests = None
        if not args.skip_tests:
            tests = _timed(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], _base_env()
            )
    except (SubprocessFailedError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"bench: a subprocess failed: {exc}", file=sys.stderr)
        return 1

    synth_ratio = full / minimal
    rows = [
        ("full synth (app.py)", f"{full:.2f} s", ""),
        ("minimal synth (1 bucket)", f"{minimal:.2f} s", ""),
        ("full / minimal", f"{synth_ratio:.2f}x", f"<= {SYNTH_TARGET:.1f}x"),
    ]
    verdicts = [f"synth {_verdict(synth_ratio, SYNTH_TARGET)}"]
    if tests is not None:
        tests_ratio = tests / full
        rows += [
            ("test suite (pytest, 1 run)", f"{tests:.2f} s", ""),
            ("tests / full synth", f"{tests_ratio:.2f}x", f"<= {TESTS_TARGET:.1f}x"),
        ]
        verdicts.append(f"tests {_verdict(tests_ratio, TESTS_TARGET)}")
    else:
        verdicts.append("tests skipped")

    print(f"{'measure':<28} {'value':>9}  target")
    print("-" * 48)
    for name, value, target in rows:
        print(f"{name:<28} {value:>9}  {target}".rstrip())
    print(f"\nverdict: {', '.join(verdicts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
