"""Build the whole CDK app from validated environments: one Stage each, nag checks on all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from config.models import EnvironmentConfig
from stacks.platform_stage import PlatformStage


def build_app(
    environments: Iterable[EnvironmentConfig],
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
) -> App:
    """An `App` with one `PlatformStage` per environment and cdk-nag packs registered."""
    app = App(context=dict(context or {}), outdir=outdir)
    for config in environments:
        PlatformStage(app, config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    return app
