"""Build the whole CDK app from validated environments: one Stage each, nag checks on all."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from aws_cdk import App, IPolicyValidationPlugin, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

from config.models import EnvironmentConfig
from l3_constructs.compliance import mirror_nist_acknowledgments
from stacks.platform_stage import PlatformStage


def build_app(
    environments: Iterable[EnvironmentConfig],
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    stages: Collection[str] | None = None,
    template_checks: IPolicyValidationPlugin | None = None,
) -> App:
    """An `App` with one `PlatformStage` per environment and cdk-nag packs registered:
    AwsSolutions and NIST 800-53 rev5 everywhere, HIPAA / PCI DSS where config asks.

    `stages` (stage names) builds only those environments: what a deploy of one stage
    needs, checked exactly as in the whole app (the packs any environment selects still
    check them). None builds every environment.

    `template_checks`: CDK's template-check plugin, created beforehand
    (`synthesis.template_checks`), registered before the packs: its report comes first, as
    CDK's own does (CDK adds its own to the nested stages, which it reports before the
    app). None: CDK adds its own (unless `CDK_VALIDATION=false`).
    """
    app = App(context=dict(context or {}), outdir=outdir)
    configs = list(environments)
    built = [
        PlatformStage(app, config=config)
        for config in configs
        if stages is None or config.stage_name in stages
    ]
    if template_checks is not None:
        Validations.of(app).add_plugins(template_checks)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    # cdk-nag 3 runs a validation plugin over the whole app, wherever it is added: a pack
    # one environment selects checks every environment, so each acknowledged NIST finding
    # answers the pack's same-named rule in every stage. A stage built on its own gets the
    # packs of every environment too, so its checks do not depend on what else is built.
    packs = extra_packs(configs)
    if packs:
        Validations.of(app).add_plugins(*(_PACKS[pack](app) for pack in packs))
        for stage in built:
            mirror_nist_acknowledgments(stage, packs)
    return app


def extra_packs(environments: Iterable[EnvironmentConfig]) -> tuple[str, ...]:
    """The optional packs any of `environments` selects (config compliance.extra_packs)."""
    return tuple(sorted({p for config in environments for p in config.compliance.extra_packs}))


_PACKS: dict[str, type[Any]] = {"hipaa": HIPAASecurityChecks, "pci_dss": PCIDSS321Checks}
