# vigil: every target sets itself up on a fresh machine (Python 3.11+, Node.js; no AWS account, no Docker).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
# The catalog that `make test`, `make check-catalog` and `make synth` read (yours: checks/).
CATALOG ?= checks
CDK_OUT ?= cdk.out
export NODE_NO_WARNINGS := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup synth check-catalog test lint demo bench clean

help:
	@echo "make demo   run vigil end to end on an embedded local AWS (moto) and print what on-call receives"
	@echo "make test   lint, validate the catalog, run its alarm tests, synthesize it, run the test suite"
	@echo "make synth  write the CloudFormation templates to cdk.out/ (no AWS account needed)"
	@echo "make check-catalog CATALOG=DIR   validate, alarm-test and synthesize one catalog (default: checks)"
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
	$(PY) -m infra validate $(CATALOG)
	$(CDK) synth --no-notices -q -c catalog=$(CATALOG) -o $(CDK_OUT)
	@echo "templates written to $(CDK_OUT)/"

# All that `make test` does with the catalog: the test suite itself reads only fixture catalogs
# under tests/fixtures/, so a team's own checks/ can fail only its own validation, alarm tests or synth.
check-catalog: setup
	$(PY) -m infra validate $(CATALOG)
	$(PY) -m infra test-alarms $(CATALOG)
	$(CDK) synth --no-notices -q -c catalog=$(CATALOG) -o $(CDK_OUT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint check-catalog
	$(PY) -m infra schema --check
	$(PY) -m pytest

demo: setup
	$(PY) -m infra demo

bench: setup
	$(PY) bench/import_times.py

clean:
	rm -rf cdk.out .build .pytest_cache .ruff_cache
