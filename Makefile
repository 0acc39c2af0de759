# Two commands set everything up: `make demo` (whole pipeline on sample data) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CUSTOMERS ?= 5000
SEED ?= 42
SIZES ?= 50000

-include .env
export
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
DAGSTER_DG_UPDATE_CHECK_ENABLED := 0
DBT_SEND_ANONYMOUS_USAGE_STATS := false
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml

.PHONY: help install setup demo test lint ui sample run bench-pipeline clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP) ## Create .venv and install the project with its pinned dependencies

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet

$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp $< $@

setup: install $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml ## Install, build the dbt manifest, prepare DAGSTER_HOME

sample: setup ## Generate the sample sources into data/sample (kept if already there)
	$(BIN)/cdp sample --customers $(CUSTOMERS) --seed $(SEED) --out data/sample

run: setup ## Materialize the whole pipeline in-process and print the summary
	$(BIN)/cdp run

demo: sample run ## Everything: install, sample data, whole pipeline, summary

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint ## Every test: lint, pytest (unit, integration on PostgreSQL/MariaDB, end-to-end with dbt build)
	$(BIN)/pytest

ui: setup ## Open the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench-pipeline: setup ## Whole-pipeline benchmark over SIZES (default 50000): table + bench/pipeline/results.json
	$(BIN)/python bench/pipeline/run.py --sizes $(SIZES)

clean: ## Remove generated data, run history and dbt artifacts (keeps .venv)
	rm -rf data .dagster_home dbt_project/target dbt_project/logs
