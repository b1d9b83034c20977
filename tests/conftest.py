"""Shared test fixtures: the whole app is synthesized once per session and shared.

The session builds exactly what `cdk synth` builds (the shipped config files, the context
of cdk.json) plus one extra environment, `Dev`, made the way the README tells a user to
add one: `config/dev.yaml` copied from `test.yaml` with a new stage name and CIDR (and the optional
HIPAA and PCI DSS nag packs and a Slack channel selected). So one
synth also proves that a new file yields a new, nag-clean stage with no code change. The
example configurations under `examples/` are synthesized in the same app (their stage names
are their own), so they stay nag-, cfn-lint- and checkov-clean too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# Same PATH order as the Makefile: jsii must run on the pinned Node 22, not the machine's.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

from aws_cdk import assertions  # noqa: E402

from config.loader import load_environments, load_from  # noqa: E402
from config.models import EnvironmentConfig  # noqa: E402

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
    # An RDS Proxy in front of the instance (RDS-managed credentials, as Test's), which no
    # shipped environment uses (issue 14).
    dev["database"] = {**dev["database"], "proxy": True}
    dev["services"] = {
        name: {**dev["services"].get(name, {}), **service} for name, service in DEV_SERVICES.items()
    } | {name: s for name, s in dev["services"].items() if name not in DEV_SERVICES}
    (config_dir / "dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    return config_dir


@dataclass
class Synth:
    """The result of the session's single synth."""

    configs: dict[str, EnvironmentConfig]
    outdir: Path
    templates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Stack artifact properties from the manifests (stackName, terminationProtection, tags).
    artifacts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Context look-ups the app asked for (must stay empty: synth runs offline).
    missing_context: list[Any] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    _assertions: dict[tuple[str, str], assertions.Template] = field(default_factory=dict)

    def template(self, stage: str, stack: str) -> dict[str, Any]:
        return self.templates[(stage, stack)]

    def assertions(self, stage: str, stack: str) -> assertions.Template:
        """`aws_cdk.assertions.Template` of one stack (parsed once, from the synthesized JSON)."""
        key = (stage, stack)
        if key not in self._assertions:
            self._assertions[key] = assertions.Template.from_json(self.templates[key])
        return self._assertions[key]


def _read_assembly(result: Synth) -> None:
    result.missing_context.extend(
        json.loads((result.outdir / "manifest.json").read_text()).get("missing", [])
    )
    for stage_dir in sorted(result.outdir.glob("assembly-*")):
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


def _synthesize() -> Synth:
    """Synthesize every stage (shipped + Dev) into TEST_ASSEMBLY and read it back."""
    from stacks.application import build_app  # noqa: PLC0415 - after PATH is set

    with tempfile.TemporaryDirectory() as workdir:
        environments = load_environments(make_config_dir(Path(workdir)))
    environments += tuple(env for example in EXAMPLES for env in load_from(example))
    shutil.rmtree(TEST_ASSEMBLY, ignore_errors=True)
    TEST_ASSEMBLY.mkdir(parents=True)
    app = build_app(
        (env.config for env in environments),
        context=cdk_json_context(),
        outdir=str(TEST_ASSEMBLY),
    )
    app.synth()
    result = Synth(
        configs={env.config.stage_name: env.config for env in environments},
        outdir=TEST_ASSEMBLY,
        report=json.loads((TEST_ASSEMBLY / "validation-report.json").read_text()),
    )
    _read_assembly(result)
    return result


class _BackgroundSynth:
    """The one synth of the session, started as soon as collection shows a test needs it.

    The work happens in the jsii Node process; the Python thread only waits on its pipe.
    Started early, it runs on the second core while the tests that need no synth (config,
    migration runner, sample app) run, instead of after them. jsii is one process driven
    through one pipe: a test that calls the CDK itself must request the `synth` fixture
    first, so it never drives jsii while this thread does.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._result: Synth | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="synth", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._result = _synthesize()
        except BaseException as exc:  # re-raised in the test thread by result()
            self._error = exc

    def result(self) -> Synth:
        self.start()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


_SYNTH = _BackgroundSynth()


def pytest_collection_finish(session: pytest.Session) -> None:
    if any("synth" in getattr(item, "fixturenames", ()) for item in session.items):
        _SYNTH.start()


@pytest.fixture(scope="session")
def synth() -> Synth:
    """The whole app (every shipped stage + Dev), synthesized once; every test reads this."""
    return _SYNTH.result()
