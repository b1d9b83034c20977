"""Shared test fixtures: the whole app is synthesized once per session and shared.

The session builds exactly what `cdk synth` builds (the shipped config files, the context
of cdk.json) plus one extra environment, `Dev`, made the way the README tells a user to
add one: `config/dev.yaml` copied from `test.yaml` with a new stage name and CIDR (and the optional
HIPAA and PCI DSS nag packs and a Slack channel selected). So one
synth also proves that a new file yields a new, nag-clean stage with no code change. The
example configurations under `examples/` are synthesized in the same app (their stage names
are their own), so they stay nag-, cfn-lint- and checkov-clean too.

The synth is `python app.py` run the way the CDK CLI runs it, in a process of its own beside
the tests; then `Test` is built on its own the way `make deploy STAGE=Test` builds it, and
tests/test_synthesis.py compares the two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# Same PATH order as the Makefile: jsii must run on the pinned Node 22, not the machine's.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"
# ... and on the Node settings app.py synthesizes with (the standalone-stack tests' jsii).
from synthesis.node import use_synth_node  # noqa: E402

use_synth_node(os.environ)

from aws_cdk import assertions  # noqa: E402

from config.loader import load_environments, load_from  # noqa: E402
from config.models import EnvironmentConfig  # noqa: E402
from cost_estimate.assembly import Stage, read_stage  # noqa: E402

#: Where the session's cloud assembly goes; `make cfn-lint` lints the templates in it.
TEST_ASSEMBLY = ROOT / "build" / "test-assembly"
SHIPPED_STAGES = ("Test", "Stage", "Prod")
NEW_STAGE = "Dev"
NEW_STAGE_CIDR = "10.40.0.0/16"
#: The example configurations (`examples/<name>/`), each layered on the shipped defaults the
#: way `make synth CONFIG=examples/<name>` builds it; the session synthesizes them too.
EXAMPLES = tuple(sorted(p for p in (ROOT / "examples").iterdir() if any(p.glob("*.yaml"))))
#: The stages of each example, by its directory name.
EXAMPLE_STAGES = {
    "ec2-capacity": ("Ec2Dev", "Ec2Staging", "Ec2Prod"),
    "serverless-db": ("ServerlessTest", "ServerlessProd"),
    "minimal": ("Minimal",),
}
#: Every stage of the session: shipped, Dev, and the examples' (tested in their own modules).
ALL_STAGES = (*SHIPPED_STAGES, NEW_STAGE, *(s for st in EXAMPLE_STAGES.values() for s in st))


#: The Dev stage's services besides the shipped `web` and `api`: a host-routed admin front
#: end, and an internal backend the API calls; api and jobs read app secrets of each kind.
DEV_SERVICES: dict[str, Any] = {
    "admin": {
        "kind": "web",
        "hosts": ["admin-{stage}.example.com"],
        "image": {"source": "asset", "directory": "services/web"},
        "port": 3000,
        "connects_to": ["api"],
        "health_check": {"path": "/healthz"},
        "storage": "read",
        "secrets": {"SESSION_KEY": {"ssm": "/dev/admin/session-key"}},
    },
    "api": {
        "connects_to": ["jobs"],
        "storage": "read_write",
        "secrets": {
            "PAYMENT_API_KEY": {
                "secrets_manager": "dev/api/payment",
                "field": "api_key",
                "create": True,
            },
            "MAIL_PASSWORD": {
                "secrets_manager": "arn:aws:secretsmanager:ap-northeast-1:111111111111:"
                "secret:dev/api/mail-AbCdEf",
                "kms_key_arn": "arn:aws:kms:ap-northeast-1:111111111111:key/"
                "0000aaaa-1111-2222-3333-444455556666",
            },
        },
    },
    "jobs": {
        "kind": "backend",
        "image": {"source": "asset", "directory": "services/api"},
        "command": ["python", "-m", "sample_api", "serve"],
        "port": 8081,
        "database": True,
        "environment": {"LOG_LEVEL": "info"},
        "secrets": {"JOBS_SIGNING_KEY": {"secrets_manager": "dev/jobs/signing"}},
    },
}
DEV_STORAGE: dict[str, Any] = {
    "cors": [
        {"allowed_origins": ["https://app-dev.example.com"], "allowed_methods": ["GET", "PUT"]}
    ],
    "removal_policy": "destroy",
    "noncurrent_version_days": 7,
    "access_log_retention_days": 14,
}


def cdk_json_context() -> dict[str, Any]:
    """The context (feature flags) `cdk synth` gets from cdk.json."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def make_config_dir(target: Path) -> Path:
    """A copy of config/ with `dev.yaml` added as the README describes."""
    config_dir = target / "config"
    shutil.copytree(ROOT / "config", config_dir, ignore=shutil.ignore_patterns("*.py", "__*"))
    dev = yaml.safe_load((config_dir / "test.yaml").read_text())
    dev["stage_name"] = NEW_STAGE
    dev["network"]["cidr"] = NEW_STAGE_CIDR
    # The optional packs (README: compliance.extra_packs): a whole stage stays nag-clean.
    dev["compliance"] = {"extra_packs": ["hipaa", "pci_dss"]}
    # ... and alarms in Slack too (AWS Chatbot), which no shipped environment uses.
    dev["observability"] = {"slack": {"workspace_id": "T0123ABCDEF", "channel_id": "C0123ABCDEF"}}
    # Four services (issue: workloads) and the app's file storage, without a pipeline, so
    # `cdk deploy` publishes the static files itself.
    dev["pipeline"] = None
    dev["storage"] = DEV_STORAGE
    # An RDS instance (Test's database before it moved to Aurora at 0 ACU for its budget,
    # issue 15) with RDS-managed credentials behind an RDS Proxy, which no shipped
    # environment uses (issue 14); a proxy would keep a pausing database awake anyway.
    dev["database"] = {
        **{k: v for k, v in dev["database"].items() if k not in ("kind", "serverless")},
        "instance_type": "t4g.micro",
        "proxy": True,
    }
    # One key per stack (config refuses Test's shared key with a proxy): Dev keeps the
    # per-stack keys' path covered while Test covers the shared one.
    dev["data_protection"] = {**dev.get("data_protection", {}), "shared_key": False}
    dev["services"] = {
        name: {**dev["services"].get(name, {}), **service} for name, service in DEV_SERVICES.items()
    } | {name: s for name, s in dev["services"].items() if name not in DEV_SERVICES}
    (config_dir / "dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    return config_dir


@dataclass
class Assembly:
    """The session's cloud assembly, read back once the synth is done."""

    templates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Stack artifact properties from the manifests (stackName, terminationProtection, tags).
    artifacts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Context look-ups the app asked for (must stay empty: synth runs offline).
    missing_context: list[Any] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


class Synth:
    """The session's single synth: the configs at once, the assembly (and `outdir`) as soon
    as the synth is done; reading it before then waits for it."""

    def __init__(self, configs: dict[str, EnvironmentConfig], session: _SessionSynth) -> None:
        self.configs = configs
        self._session = session
        self._assertions: dict[tuple[str, str], assertions.Template] = {}
        self._stages: dict[str, Stage] = {}

    @property
    def outdir(self) -> Path:
        self._session.assembly()
        return TEST_ASSEMBLY

    @property
    def templates(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self._session.assembly().templates

    @property
    def artifacts(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self._session.assembly().artifacts

    @property
    def missing_context(self) -> list[Any]:
        return self._session.assembly().missing_context

    @property
    def report(self) -> dict[str, Any]:
        return self._session.assembly().report

    def template(self, stage: str, stack: str) -> dict[str, Any]:
        return self.templates[(stage, stack)]

    def stage(self, name: str) -> Stage:
        """One stage as `make cost` and `make diagrams` read it (`read_stage`, read once)."""
        if name not in self._stages:
            self._stages[name] = read_stage(self.outdir / f"assembly-{name}")
        return self._stages[name]

    def assertions(self, stage: str, stack: str) -> assertions.Template:
        """`aws_cdk.assertions.Template` of one stack (parsed once, from the synthesized JSON)."""
        key = (stage, stack)
        if key not in self._assertions:
            self._assertions[key] = assertions.Template.from_json(self.templates[key])
        return self._assertions[key]


def _read_assembly(outdir: Path) -> Assembly:
    result = Assembly(report=json.loads((outdir / "validation-report.json").read_text()))
    result.missing_context.extend(
        json.loads((outdir / "manifest.json").read_text()).get("missing", [])
    )
    for stage_dir in sorted(outdir.glob("assembly-*")):
        stage = stage_dir.name.removeprefix("assembly-")
        manifest = json.loads((stage_dir / "manifest.json").read_text())
        result.missing_context.extend(manifest.get("missing", []))
        for artifact in manifest["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            stack = artifact["displayName"].split("/", 1)[1]
            key = (stage, stack)
            result.artifacts[key] = {
                **artifact["properties"],
                "environment": artifact["environment"],
            }
            template_file = stage_dir / artifact["properties"]["templateFile"]
            result.templates[key] = json.loads(template_file.read_text())
    return result


#: What a synth subprocess may print before the session reports it failed.
_OUTPUT_TAIL = 60
#: A synth that has not finished by then is stopped and reported, not waited for forever
#: (the whole app takes under a minute even on a busy machine).
_SYNTH_TIMEOUT_S = 600
#: The stage the session also builds on its own (`-c stage=Test`, what `make deploy
#: STAGE=Test` synthesizes), after the whole app, on the core the whole app's synth frees.
ALONE_STAGE = "Test"
ALONE_ASSEMBLY = ROOT / "build" / "test-assembly-alone"


class _Synthesis:
    """`python app.py` in its own process, as the CDK CLI runs it (the context of cdk.json,
    the assembly into `outdir`): started, then waited for."""

    def __init__(self, outdir: Path, env: dict[str, str]) -> None:
        self.outdir = outdir
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self.error: str | None = None

    def start(self) -> None:
        shutil.rmtree(self.outdir, ignore_errors=True)
        self.outdir.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k != "CONTEXT_OVERFLOW_LOCATION_ENV"}
        env |= {"CDK_OUTDIR": str(self.outdir)} | self._env
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in wait/stop
        self._process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=ROOT,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def wait(self) -> bool:
        """Whether it succeeded (else `error` says why); at once if it was waited for."""
        if self._process is not None:
            assert self._output is not None
            try:
                code = self._process.wait(timeout=_SYNTH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait()
                self._output.write(b"\n(stopped: still running after %d s)" % _SYNTH_TIMEOUT_S)
            self._output.seek(0)
            output = self._output.read().decode("utf-8", errors="replace")
            self._output.close()
            self._process = None
            if code != 0:
                tail = "\n".join(output.splitlines()[-_OUTPUT_TAIL:])
                self.error = f"python app.py ({self.outdir.name}) exited {code}:\n{tail}"
        return self.error is None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait()
        if self._output is not None:
            self._output.close()


class _SessionSynth:
    """The one synth of the session: the shipped config with `dev.yaml` added and the
    examples (`PLATFORM_CONFIG` lists the directories), in a process of its own. Then, on
    the core it frees, `ALONE_STAGE` built on its own from the same directories.

    Started as soon as the session is known to need it (before collection when pytest runs
    the whole suite, else when collection shows a test needs it), it runs on the other core
    while this process runs the tests: those that need no synth, and the standalone-stack
    tests, which use this process's own jsii. A test waits only when it reads the assembly.
    """

    def __init__(self) -> None:
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._configs: dict[str, EnvironmentConfig] | None = None
        self._whole: _Synthesis | None = None
        self._alone: _Synthesis | None = None
        self._then: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._assembly: Assembly | None = None
        self._alone_assembly: Assembly | None = None

    def configs(self) -> dict[str, EnvironmentConfig]:
        if self._configs is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="test-config-")
            config_dir = make_config_dir(Path(self._workdir.name))
            environments = load_environments(config_dir)
            environments += tuple(env for example in EXAMPLES for env in load_from(example))
            self._configs = {env.config.stage_name: env.config for env in environments}
        return self._configs

    def start(self) -> None:
        if self._whole is not None:
            return
        self.configs()
        assert self._workdir is not None
        sources = [Path(self._workdir.name) / "config", *EXAMPLES]
        env = {
            "PLATFORM_CONFIG": os.pathsep.join(str(s) for s in sources),
            "CDK_CONTEXT_JSON": json.dumps(cdk_json_context()),
        }
        alone_context = {**cdk_json_context(), "stage": ALONE_STAGE}
        self._whole = _Synthesis(TEST_ASSEMBLY, env)
        self._alone = _Synthesis(
            ALONE_ASSEMBLY, env | {"CDK_CONTEXT_JSON": json.dumps(alone_context)}
        )
        self._whole.start()
        self._then = threading.Thread(target=self._start_alone, name="synth-alone", daemon=True)
        self._then.start()

    def _start_alone(self) -> None:
        assert self._whole is not None
        assert self._alone is not None
        if self._whole.wait():
            with self._lock:
                if not self._stopped:
                    self._alone.start()

    def assembly(self) -> Assembly:
        self.start()
        assert self._then is not None
        self._then.join()  # the thread waits for the whole app's synth
        assert self._whole is not None
        if not self._whole.wait():
            pytest.fail(f"the session's synth failed: {self._whole.error}", pytrace=False)
        if self._assembly is None:
            self._assembly = _read_assembly(TEST_ASSEMBLY)
        return self._assembly

    def alone(self) -> Assembly:
        """`ALONE_STAGE` built on its own (`-c stage=...`), read back."""
        self.assembly()
        assert self._alone is not None
        if not self._alone.wait():
            pytest.fail(f"the synth of {ALONE_STAGE} alone failed: {self._alone.error}")
        if self._alone_assembly is None:
            self._alone_assembly = _read_assembly(ALONE_ASSEMBLY)
        return self._alone_assembly

    def stop(self) -> None:
        """At the end of the session: a synth no test waited for is stopped."""
        with self._lock:
            self._stopped = True
        for synthesis in (self._whole, self._alone):
            if synthesis is not None:
                synthesis.stop()
        if self._workdir is not None:
            self._workdir.cleanup()


_SYNTH = _SessionSynth()


def _runs_the_whole_suite(config: pytest.Config) -> bool:
    """`pytest` as `make pytest` runs it: every test of testpaths, none deselected."""
    option = config.option
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not option.keyword
        and not option.markexpr
        and not getattr(option, "lf", False)
        and not getattr(option, "deselect", None)
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if _runs_the_whole_suite(session.config):
        _SYNTH.start()


def _synth_order(item: pytest.Item) -> int:
    """0: needs no synth; 1: reads the whole app; 2: compares the stage built alone.

    The tests that build a small app of their own on this process's jsii ask for `synth`
    only to run in group 1, after the session's synth: they no longer share a Node with it,
    but building CDK apps here while the synth subprocess builds its own slows both on two
    cores (measured side by side, twice each: the suite 40 s with them after it, 42-44 s and
    7 more CPU-seconds with them beside it)."""
    fixtures = getattr(item, "fixturenames", ())
    return 2 if "stage_alone" in fixtures else 1 if "synth" in fixtures else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need no synth first, while the synth runs beside them; then those that
    read the whole app; last those that compare the stage built alone (in file order each)."""
    items.sort(key=_synth_order)


def pytest_collection_finish(session: pytest.Session) -> None:
    if any("synth" in getattr(item, "fixturenames", ()) for item in session.items):
        _SYNTH.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _SYNTH.stop()


@pytest.fixture(scope="session")
def stage_alone() -> Assembly:
    """`ALONE_STAGE` synthesized on its own (`-c stage=Test`), as a deploy of it does."""
    return _SYNTH.alone()


@pytest.fixture(scope="session")
def synth() -> Synth:
    """The whole app (every shipped stage, Dev and the examples), synthesized once; every
    test reads this."""
    return Synth(_SYNTH.configs(), _SYNTH)
