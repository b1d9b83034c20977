"""The Node process jsii starts for the CDK: `synthesis/jsii-node` (see that file for why)."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

#: jsii's Python runtime starts `$JSII_NODE` (default `node`) for the CDK's Node process.
JSII_NODE_ENV = "JSII_NODE"
JSII_NODE = Path(__file__).resolve().with_name("jsii-node")


def use_synth_node(environ: MutableMapping[str, str]) -> None:
    """Start jsii's Node through `synthesis/jsii-node`, unless `JSII_NODE` names one already.
    Takes effect only before the CDK is imported (jsii starts Node on the first import)."""
    environ.setdefault(JSII_NODE_ENV, str(JSII_NODE))
