"""Write `config/schema.json`, the JSON Schema of one environment file, from the models.

Editors that speak JSON Schema (VS Code's YAML extension reads the
`# yaml-language-server: $schema=./schema.json` line of each file) then autocomplete and
validate the YAML. `make test` fails when the committed schema is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from config.models import EnvironmentConfig

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "schema.json"


def environment_schema() -> dict[str, Any]:
    """The schema of an environment file. Keys that may come from `defaults.yaml` are not
    required here: required-ness is checked after the merge, by the loader.
    """
    schema = EnvironmentConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Environment configuration (config/<name>.yaml)"
    for definition in [schema, *schema.get("$defs", {}).values()]:
        definition.pop("required", None)
    return schema


def render() -> str:
    return json.dumps(environment_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
