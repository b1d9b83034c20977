"""Make the sample web front end (``<repo>/services/web/sample_web``) importable."""

import sys
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parents[3] / "services" / "web"

if str(WEB_DIR) not in sys.path:
    sys.path.insert(0, str(WEB_DIR))
