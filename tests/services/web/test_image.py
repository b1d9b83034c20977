"""The web image's Dockerfile: non-root numeric USER, root-owned code, the right command."""

from __future__ import annotations

import json
import re
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parents[3] / "services" / "web"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = (WEB_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, args = stripped.partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


def _args(instruction: str) -> list[str]:
    return [args for name, args in _instructions() if name == instruction]


def test_runs_as_numeric_non_root_user() -> None:
    users = _args("USER")
    assert users, "no USER instruction: the container would run as root"
    match = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert match, f"USER {users[-1]!r} is not a numeric uid:gid"
    assert int(match[1]) != 0
    assert int(match[2]) != 0
    assert users[-1] == "10001:10001"  # the same user as services/api


def test_code_is_copied_root_owned_before_user() -> None:
    names = [name for name, _ in _instructions()]
    last_copy = max(i for i, name in enumerate(names) if name == "COPY")
    assert last_copy < names.index("USER")
    copies = _args("COPY")
    assert all("--chown" not in args and "--chmod" not in args for args in copies)
    assert "sample_web/ ./sample_web/" in copies
    assert "static/ ./static/" in copies
    assert _args("WORKDIR") == ["/app"]


def test_base_image_port_and_command() -> None:
    assert _args("FROM") == ["python:3.13-slim-bookworm"]
    assert _args("EXPOSE") == ["3000"]
    assert json.loads(_args("CMD")[-1]) == ["python", "-m", "sample_web", "serve"]
    env = " ".join(_args("ENV"))
    assert "PORT=3000" in env
    assert "STATIC_DIR=/app/static" in env


def test_dockerignore_allows_only_what_the_image_needs() -> None:
    lines = [
        line.strip()
        for line in (WEB_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {line for line in lines if line.startswith("!")} == {"!sample_web/", "!static/"}


def test_same_user_as_the_api_image() -> None:
    api = (WEB_DIR.parent / "api" / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", api, re.MULTILINE)
