"""``python -m sample_web`` dispatch."""

from __future__ import annotations

import pytest
from sample_web import cli


@pytest.mark.parametrize("argv", [[], ["bogus"], ["migrate"], ["serve", "extra"]])
def test_bad_command_prints_usage_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: python -m sample_web")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "serve" in capsys.readouterr().out


def test_dispatches_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "serve", lambda: 7)
    assert cli.main(["serve"]) == 7
