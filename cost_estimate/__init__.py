"""Monthly cost estimates of a synthesized cloud assembly (`make cost`).

    python -m cost_estimate [--assembly cdk.out] [--out cdk.out/cost]

Reads every stage of the assembly (`assembly-<Stage>/`: templates, each stack's region, and
the budget and usage assumptions the app wrote into the Monitoring stack's metadata) and
writes `<Stage>.md` and `<Stage>.json` per stage: an itemized monthly estimate, by resource
and line item, from the dated list-price tables in `cost_estimate/prices/`.

Modules: `prices` (the price tables), `assembly` (reading cdk.out), `model` (line items and
estimates), `context` (what a pricing rule may ask), `rules_*` (one per area: how each
CloudFormation type is priced), `catalogue` (type -> rule, and the types that cost nothing
of their own), `estimate` (a stage's estimate), `report` (Markdown and JSON), `schedules`
(how often a `rate()` / `cron()` expression fires).
"""
