"""``python -m sample_api`` dispatch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sample_api import cli

APP_DIR = Path(__file__).resolve().parents[3] / "services" / "api"


@pytest.mark.parametrize("argv", [[], ["bogus"], ["serve", "extra"], ["worker", "now"]])
def test_bad_command_prints_usage_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: python -m sample_api")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert capsys.readouterr().out == (
        "usage: python -m sample_api {serve|migrate|worker|cleanup}\n"
    )


@pytest.mark.parametrize("command", ["serve", "migrate", "worker", "cleanup"])
def test_dispatches_each_command(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in cli.COMMANDS:
        monkeypatch.setitem(cli.COMMANDS, name, lambda: 99)
    monkeypatch.setitem(cli.COMMANDS, command, lambda: 7)
    assert cli.main([command]) == 7


def test_every_command_is_in_the_usage() -> None:
    listed = cli.USAGE.split("{", 1)[1].rstrip("}").split("|")
    assert listed == list(cli.COMMANDS)


def test_worker_without_queue_url_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QUEUE_URL", raising=False)
    assert cli.main(["worker"]) == 2
    assert capsys.readouterr().err.startswith("worker: error: QUEUE_URL is not set")


def test_cleanup_with_a_bad_retention_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLEANUP_RETENTION_DAYS", "never")
    assert cli.main(["cleanup"]) == 2
    assert capsys.readouterr().err.startswith("cleanup: error: CLEANUP_RETENTION_DAYS")


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(APP_DIR)},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return set(result.stdout.split())


def test_serve_and_the_cli_stay_stdlib_only() -> None:
    """The dispatcher and ``serve`` import neither boto3 nor psycopg; each command imports
    only what it needs."""
    third_party = {"boto3", "botocore", "psycopg"}
    loaded = _modules_after("import sample_api.cli, sample_api.server, sample_api.__main__")
    assert not loaded & third_party
    assert "sample_api.worker" not in loaded
    assert "sample_api.cleanup" not in loaded
    assert not _modules_after("import sample_api.worker") & third_party
    assert not _modules_after("import sample_api.cleanup") & third_party
