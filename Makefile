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

.PHONY: help setup demo synth test test-fast lint bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

setup: .setup-stamp $(CHECKOV_VENV)/.stamp  ## create .venv (and .venv-checkov) and install the Python and npm dependencies

.setup-stamp: pyproject.toml package.json package-lock.json
	@command -v node >/dev/null || { echo "error: Node.js 20 or newer is needed for the CDK CLI (https://nodejs.org)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHECKOV_VENV)/.stamp: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	@touch $@

demo: setup  ## synthesize the platform from kit.yaml, check it, deploy it to an embedded AWS and run the end-to-end flow
	$(KIT) synth
	$(KIT) deploy --local --demo

synth: setup  ## synthesize and check only
	$(KIT) synth

test: setup  ## run the whole test suite
	$(BIN)/pytest

test-fast: setup  ## the suite without the embedded-AWS integration tests
	$(BIN)/pytest -m "not integration"

lint: setup  ## ruff and mypy over the package
	$(BIN)/ruff check mlops_kit tests benchmarks
	$(BIN)/mypy

bench: setup  ## synth time and memory of the default app (benchmarks/README.md)
	$(BIN)/python benchmarks/synth.py

clean:  ## remove generated files (not the venvs)
	rm -rf cdk.out .cdk.out.* .pytest_cache
