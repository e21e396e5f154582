# paw: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
SIZE ?= all

.PHONY: help setup run test dev bench lint clean uv

help:
	@echo "make run    set up, generate sample data if the landing zone is empty, run the pipeline"
	@echo "make test   set up and run the whole test suite (dbt tests included)"
	@echo "make dev    the Dagster UI (http://127.0.0.1:3000)"
	@echo "make bench  benchmarks (SIZE=1m for the small size only)"
	@echo "make lint   ruff and sqlfluff"

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		{ echo "installing uv"; $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv; }

# The environment from uv.lock, the httpfs extension from its wheel, and dbt's manifest (which
# Dagster loads instead of parsing the project every time the code location starts).
setup: uv
	$(UV) sync --frozen
	$(BIN)/python -m paw.duckdb_extensions
	$(BIN)/paw dbt parse --quiet
	@mkdir -p $(DAGSTER_HOME) data/landing data/lake data/warehouse
	@cp -u orchestration/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: setup
	$(BIN)/paw generate --if-empty
	$(BIN)/paw run
	@$(BIN)/python -m paw.summary

test: setup
	$(BIN)/pytest

dev: setup
	$(BIN)/dagster dev -w workspace.yaml

bench: setup
	$(UV) sync --frozen --extra bench
	$(BIN)/python -m bench --size $(SIZE)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && ../$(BIN)/sqlfluff lint models tests

clean:
	rm -rf data/landing data/lake data/warehouse $(DAGSTER_HOME) dbt_project/target
