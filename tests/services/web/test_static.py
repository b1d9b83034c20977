"""The checked-in static files are content-hashed for real, and the server finds them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from sample_web.assets import DEFAULT_STATIC_DIR, AssetError, load_assets

STATIC_DIR = Path(__file__).resolve().parents[3] / "services" / "web" / "static"
HASHED_NAME = re.compile(r"^(?P<stem>[^.]+)\.(?P<hash>[0-9a-f]{8})\.(?P<ext>[a-z0-9]+)$")


def _sha8(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def _files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def test_static_dir_holds_a_script_and_a_stylesheet() -> None:
    suffixes = sorted(p.suffix for p in _files())
    assert suffixes.count(".js") == 1
    assert suffixes.count(".css") == 1


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_every_static_file_name_is_its_content_hash(path: Path) -> None:
    match = HASHED_NAME.match(path.name)
    assert match, f"{path.name} is not <name>.<8 hex>.<ext>"
    assert match["hash"] == _sha8(path.read_bytes()), f"{path.name}: stale hash"


def test_default_static_dir_is_the_checked_in_one() -> None:
    assert DEFAULT_STATIC_DIR == STATIC_DIR


def test_load_assets_finds_the_checked_in_names() -> None:
    by_suffix = {p.suffix: p.name for p in _files()}
    assets = load_assets(STATIC_DIR)
    assert (assets.script, assets.stylesheet) == (by_suffix[".js"], by_suffix[".css"])
    assert assets.script_url == f"/_next/static/{assets.script}"
    assert assets.stylesheet_url == f"/_next/static/{assets.stylesheet}"


def _write_hashed(directory: Path, content: bytes, ext: str, stem: str = "app") -> str:
    name = f"{stem}.{_sha8(content)}.{ext}"
    (directory / name).write_bytes(content)
    return name


def test_load_assets_follows_a_rename(tmp_path: Path) -> None:
    script = _write_hashed(tmp_path, b"console.log('v2');\n", "js")
    stylesheet = _write_hashed(tmp_path, b"body { color: red; }\n", "css")
    (tmp_path / "README").write_text("not an asset\n")
    assets = load_assets(tmp_path)
    assert (assets.script, assets.stylesheet) == (script, stylesheet)


def test_stale_hash_is_refused(tmp_path: Path) -> None:
    _write_hashed(tmp_path, b"body {}\n", "css")
    (tmp_path / "app.00000000.js").write_bytes(b"console.log('edited');\n")
    with pytest.raises(AssetError, match=r"app\.00000000\.js is stale"):
        load_assets(tmp_path)


def test_two_builds_side_by_side_are_refused(tmp_path: Path) -> None:
    _write_hashed(tmp_path, b"body {}\n", "css")
    _write_hashed(tmp_path, b"console.log(1);\n", "js")
    _write_hashed(tmp_path, b"console.log(2);\n", "js")
    with pytest.raises(AssetError, match=r"expected exactly one app\.<8 hex>\.js"):
        load_assets(tmp_path)


def test_missing_stylesheet_is_refused(tmp_path: Path) -> None:
    _write_hashed(tmp_path, b"console.log(1);\n", "js")
    with pytest.raises(AssetError, match=r"app\.<8 hex>\.css .*found: none"):
        load_assets(tmp_path)


def test_unhashed_name_is_refused(tmp_path: Path) -> None:
    _write_hashed(tmp_path, b"body {}\n", "css")
    (tmp_path / "app.latest.js").write_bytes(b"console.log(1);\n")
    with pytest.raises(AssetError, match=r"found: app\.latest\.js"):
        load_assets(tmp_path)


def test_missing_static_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="static directory not found"):
        load_assets(tmp_path / "nope")
