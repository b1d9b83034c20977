"""README's generated parts (the Prod diagram and cost summary) are what the synthesized app
generates: a change to the app or the prices without `make docs` fails here."""

from __future__ import annotations

import pytest

from scripts.docs import README, DocsError, current_blocks, generated_blocks, update
from tests.conftest import Synth


def test_readme_generated_parts_are_current(synth: Synth) -> None:
    expected = generated_blocks(synth.outdir, "Prod")
    found = current_blocks(README.read_text(encoding="utf-8"))
    assert set(expected) <= set(found), "README lacks a generated block's markers"
    for name, body in expected.items():
        assert found[name] == body, f"README's {name} is stale: run make docs"


def test_update_replaces_only_between_the_markers() -> None:
    text = (
        "before\n<!-- BEGIN GENERATED a-b (make docs) -->\nold\n<!-- END GENERATED a-b -->\nafter\n"
    )
    assert update(text, {"a-b": "new\n"}) == text.replace("old\n", "new\n")
    with pytest.raises(DocsError, match="no markers for c-d"):
        update(text, {"c-d": "x\n"})
