"""The content-hashed static files (``app.<hash>.js``, ``app.<hash>.css``) the page loads.

The files live in the static directory (``$STATIC_DIR``, by default ``static/`` next to this
package; ``/app/static`` in the image). Their names carry the first 8 hex digits of the
SHA-256 of their content, so CloudFront and browsers may cache them forever: new content means
a new name. The server finds the names by globbing that directory at start-up, so the page
always links to the files that were deployed with it; it never serves them itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

HASH_LENGTH = 8
#: Where the browser fetches the files from (CloudFront routes this prefix to S3).
STATIC_URL_PREFIX = "/_next/static/"
DEFAULT_STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ENTRY_NAME = "app"
_NAME_PATTERN = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})\.(?P<ext>[a-z]+)$")


class AssetError(Exception):
    """The static directory does not hold exactly one valid ``app.<hash>`` file per kind."""


@dataclass(frozen=True)
class Assets:
    script: str  # file name, e.g. "app.196a4f91.js"
    stylesheet: str  # file name, e.g. "app.76a5c4c3.css"

    @property
    def script_url(self) -> str:
        return STATIC_URL_PREFIX + self.script

    @property
    def stylesheet_url(self) -> str:
        return STATIC_URL_PREFIX + self.stylesheet


def content_hash(data: bytes) -> str:
    """The hash part of a static file's name: the first 8 hex digits of SHA-256."""
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def name_hash(name: str) -> str | None:
    """The hash part of ``<stem>.<hash>.<ext>``, or None if the name has none."""
    match = _NAME_PATTERN.match(name)
    return match["hash"] if match else None


def _find(static_dir: Path, ext: str) -> str:
    candidates = sorted(p for p in static_dir.glob(f"{ENTRY_NAME}.*.{ext}") if p.is_file())
    valid = [p for p in candidates if name_hash(p.name) is not None]
    if len(valid) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise AssetError(
            f"expected exactly one {ENTRY_NAME}.<{HASH_LENGTH} hex>.{ext} in {static_dir}, "
            f"found: {found}"
        )
    path = valid[0]
    actual = content_hash(path.read_bytes())
    if name_hash(path.name) != actual:
        raise AssetError(f"{path.name} is stale: its content hashes to {actual}")
    return path.name


def load_assets(static_dir: Path = DEFAULT_STATIC_DIR) -> Assets:
    """Find the script and stylesheet in ``static_dir`` and check their names' hashes."""
    if not static_dir.is_dir():
        raise AssetError(f"static directory not found: {static_dir}")
    return Assets(script=_find(static_dir, "js"), stylesheet=_find(static_dir, "css"))
