# vigil: every target sets itself up on a fresh machine (Python 3.11+, Node.js; no AWS account, no Docker).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export NODE_NO_WARNINGS := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup synth test lint demo bench clean

help:
	@echo "make demo   run vigil end to end on an embedded local AWS (moto) and print what on-call receives"
	@echo "make test   lint, validate the catalog, run the alarm tests and the test suite"
	@echo "make synth  write the CloudFormation templates to cdk.out/ (no AWS account needed)"
	@echo "make bench  print the benchmarks' figures"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vigil needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "vigil needs Node.js and npm for the CDK CLI"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

synth: setup
	$(PY) -m infra validate
	$(CDK) synth --no-notices -q
	@echo "templates written to cdk.out/"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint
	$(PY) -m infra validate
	$(PY) -m infra schema --check
	$(PY) -m infra test-alarms
	$(PY) -m pytest

demo: setup
	$(PY) -m infra demo

bench: setup
	$(PY) bench/import_times.py

clean:
	rm -rf cdk.out .build .pytest_cache .ruff_cache
