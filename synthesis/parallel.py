"""The whole app in several processes: each worker runs `app.py` with some stages selected
(`-c stage=A,B`, exactly what a deploy of those stages synthesizes), into its own cloud
assembly; the parts are then merged into the app's one assembly (`synthesis.assembly`).

Why: jsii drives the CDK's Node process through one pipe, so one process synthesizes on one
core; the stages share no construct, so two cores build two of them at once. Every worker
checks its stages with every cdk-nag pack any environment selects (`build_app`), so the
merged validation report is the whole app's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from synthesis.assembly import merge_assemblies, merge_reports
from synthesis.selection import CONTEXT_ENV, CONTEXT_OVERFLOW_ENV, OUTDIR_ENV, STAGE_CONTEXT

#: How many worker processes synthesize the whole app (never more than there are stages).
#: Unset or 1: every stage in `app.py`'s own process. Each worker pays the fixed cost of a
#: CDK process (imports, Node's start, the CDK's template-check engine, the first stage's
#: warm-up), which on two cores shared with other work outweighs what it saves (README,
#: Speed): worth it only with idle cores and many stages.
WORKERS_ENV = "PLATFORM_SYNTH_WORKERS"


class WorkersError(ValueError):
    """A `PLATFORM_SYNTH_WORKERS` value that is no positive whole number."""


def worker_count(environ: Mapping[str, str], stages: int) -> int:
    """Workers for `stages` stages: `PLATFORM_SYNTH_WORKERS`, else 1."""
    value = environ.get(WORKERS_ENV, "").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise WorkersError(f"{WORKERS_ENV}: expected a whole number >= 1, got {value!r}")
    return max(1, min(int(value), stages))


def plan(stages: Sequence[tuple[str, float]], workers: int) -> list[list[str]]:
    """Stages (name, relative cost) spread over `workers`: the costliest first, each onto
    the least loaded worker; a worker's stages keep the app's order, and so do the workers
    (by their first stage)."""
    order = {name: i for i, (name, _) in enumerate(stages)}
    loads: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(max(1, workers))]
    for name, cost in sorted(stages, key=lambda s: (-s[1], order[s[0]])):
        index = min(range(len(loads)), key=lambda i: (loads[i][0], i))
        load, names = loads[index]
        loads[index] = (load + cost, [*names, name])
    groups = [sorted(names, key=order.__getitem__) for _, names in loads if names]
    return sorted(groups, key=lambda g: order[g[0]])


@dataclass
class _Worker:
    stages: list[str]
    outdir: Path
    stdout: TextIO
    stderr: TextIO
    process: subprocess.Popen[bytes]


def _worker_env(
    environ: Mapping[str, str], context: Mapping[str, Any], stages: Sequence[str], outdir: Path
) -> dict[str, str]:
    env = {k: v for k, v in environ.items() if k != CONTEXT_OVERFLOW_ENV}
    env[CONTEXT_ENV] = json.dumps({**context, STAGE_CONTEXT: ",".join(stages)})
    env[OUTDIR_ENV] = str(outdir)
    return env


def _replay(stream: TextIO, target: TextIO) -> None:
    stream.seek(0)
    text = stream.read()
    if text:
        target.write(text)
        target.flush()


def synthesize(
    app: Path,
    groups: Sequence[Sequence[str]],
    *,
    outdir: Path,
    context: Mapping[str, Any],
    environ: Mapping[str, str],
    stage_order: Sequence[str],
) -> int:
    """Run one worker (`python app`) per group of stages at once, then merge their cloud
    assemblies into `outdir`. Each worker's output is replayed in order once all are done;
    the exit code is 0, or the first failed worker's (its validation report is merged all
    the same: it says what failed)."""
    outdir.mkdir(parents=True, exist_ok=True)
    # Beside the assembly, so the merge moves directories instead of copying them.
    work = Path(tempfile.mkdtemp(prefix=".synth-workers-", dir=outdir))
    workers: list[_Worker] = []
    try:
        for i, stages in enumerate(groups):
            part = work / f"part-{i}"
            stdout = tempfile.TemporaryFile("w+", encoding="utf-8", dir=work)  # noqa: SIM115
            stderr = tempfile.TemporaryFile("w+", encoding="utf-8", dir=work)  # noqa: SIM115
            process = subprocess.Popen(  # noqa: S603 -- this interpreter, our own app
                [sys.executable, str(app)],
                env=_worker_env(environ, context, stages, part),
                stdout=stdout,
                stderr=stderr,
            )
            workers.append(_Worker(list(stages), part, stdout, stderr, process))
        codes = [w.process.wait() for w in workers]
        for worker in workers:
            _replay(worker.stdout, sys.stdout)
            _replay(worker.stderr, sys.stderr)
        failed = [code for code in codes if code != 0]
        if failed:
            merge_reports([w.outdir for w in workers], outdir)
            return failed[0]
        merge_assemblies([w.outdir for w in workers], outdir, stage_order)
        return 0
    finally:
        for worker in workers:
            if worker.process.poll() is None:  # interrupted: stop the others too
                worker.process.terminate()
                try:
                    worker.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    worker.process.wait()
            worker.stdout.close()
            worker.stderr.close()
        shutil.rmtree(work, ignore_errors=True)
