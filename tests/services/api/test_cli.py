"""``python -m sample_api`` dispatch."""

from __future__ import annotations

import pytest
from sample_api import cli


@pytest.mark.parametrize("argv", [[], ["bogus"], ["serve", "extra"]])
def test_bad_command_prints_usage_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: python -m sample_api")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "serve" in capsys.readouterr().out


def test_dispatches_migrate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "migrate", lambda: 7)
    assert cli.main(["migrate"]) == 7
