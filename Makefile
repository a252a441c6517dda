# The README's commands. `make demo` and `make test` each set everything up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
# checkov pins boto3/botocore/packaging older than the kit's: it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
PYTHON ?= python3
BIN    := $(VENV)/bin
KIT    := $(BIN)/mlops-kit

# jsii (aws-cdk-lib's bridge to Node) prints a banner on Node releases past its support window.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true
# Never probe the EC2 instance metadata service for credentials: nothing here calls real AWS.
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help setup demo synth test test-fast lint bench image-tables clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

setup: .setup-stamp $(CHECKOV_VENV)/.stamp  ## create .venv (and .venv-checkov) and install the Python and npm dependencies

.setup-stamp: pyproject.toml package.json package-lock.json
	@command -v node >/dev/null || { echo "error: Node.js 20 or newer is needed for the CDK CLI (https://nodejs.org)"; exit 1; }
	@# pip --quiet prints nothing for minutes: say what runs and about how long it takes (measured on 2 cores).
	@echo "setup 1/4: Python virtual environment in $(VENV)/ (a few seconds)"
	@$(PYTHON) -m venv $(VENV)
	@echo "setup 2/4: upgrade pip (about 10 s)"
	@$(BIN)/pip install --quiet --upgrade pip
	@echo "setup 3/4: the kit and its Python dependencies: aws-cdk-lib, sagemaker, moto, cfn-lint ... (3-6 min, about 1.5 GB)"
	@$(BIN)/pip install --quiet -e '.[dev]'
	@echo "setup 4/4: the CDK CLI from npm (about 30 s)"
	@npm ci --no-audit --no-fund --loglevel=error
	@echo "setup: done"
	@touch $@

$(CHECKOV_VENV)/.stamp: requirements-checkov.txt
	@echo "setup: checkov in its own $(CHECKOV_VENV)/ (it pins an older boto3; about 2 min)"
	@$(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	@$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	@touch $@

demo: setup  ## synthesize the platform from kit.yaml, check it, deploy it to an embedded AWS, run the end-to-end flow, write the report
	@echo "demo 1/3: synthesize and check (about 1 min)"
	@$(KIT) synth
	@echo "demo 2/3: deploy to an embedded AWS and run the end-to-end flow (about 2 min)"
	@$(KIT) deploy --local --demo
	@echo "demo 3/3: the HTML report (tiers, personas, checks, cost, pipelines)"
	@$(KIT) report

synth: setup  ## synthesize and check only
	$(KIT) synth

test: setup  ## run the whole test suite
	$(BIN)/pytest

test-fast: setup  ## the suite without the embedded-AWS integration tests
	$(BIN)/pytest -m "not integration"

lint: setup  ## ruff and mypy over the package
	$(BIN)/ruff check mlops_kit tests benchmarks
	$(BIN)/mypy

bench: setup  ## synth wall, CPU and tree memory at 1, 10 and 50 projects against a floor app (benchmarks/README.md)
	$(BIN)/python benchmarks/scale.py

image-tables: setup  ## regenerate mlops_kit/pipelines/image_uris.json from the installed SageMaker SDK
	$(BIN)/python -c 'from mlops_kit.pipelines.images import write_tables; write_tables()'

clean:  ## remove generated files (not the venvs)
	rm -rf cdk.out .cdk.out.* .pytest_cache
