"""Make the sample API (``<repo>/services/api/sample_api``) importable as ``sample_api``."""

import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[3] / "services" / "api"

if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))
