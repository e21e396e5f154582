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
# Python may write compiled bytecode beside the packages of .venv, so that every dbt and Dagster
# process after the first imports dbt, Dagster and scipy without compiling them again (some
# environments set PYTHONDONTWRITEBYTECODE, which costs each process seconds).
unexport PYTHONDONTWRITEBYTECODE
SIZE ?= all

.PHONY: help setup setup-test run test test-fast dev bench lint clean uv

help:
	@echo "make run        set up, generate sample data if the landing zone is empty, run the pipeline"
	@echo "make test       set up and run the whole test suite (dbt tests included)"
	@echo "make test-fast  the unit tests alone (under a minute)"
	@echo "make dev        the Dagster UI (http://127.0.0.1:3000)"
	@echo "make bench      benchmarks of 1m and 10m events (SIZE=1m, 10m or 100m for one size)"
	@echo "make lint       ruff and sqlfluff"

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		{ echo "installing uv"; $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv; }

# After the packages: the httpfs extension from its wheel, and dbt's manifest (which Dagster
# loads instead of parsing the project every time the code location starts).
define prepare
	@$(BIN)/python -m paw.duckdb_extensions
	@$(BIN)/paw dbt parse --quiet
	@mkdir -p $(DAGSTER_HOME) data/landing data/lake data/warehouse
	@cp -u orchestration/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
endef

# What running paw needs, from uv.lock (--inexact: tools installed by make test stay).
setup: uv
	@$(UV) sync --frozen --inexact --no-default-groups --quiet
	$(prepare)

# ... and the test tools (pytest, moto, ruff, sqlfluff, the benchmark's peer).
setup-test: uv
	@$(UV) sync --frozen --inexact --quiet
	$(prepare)

run: setup
	@$(BIN)/paw generate --if-empty
	@$(BIN)/paw run

# Unbuffered, so that progress shows as it happens; one worker per core (a module stays on
# one worker, so its fixtures are built once); the slowest tests are listed at the end.
test: setup-test
	PYTHONUNBUFFERED=1 $(BIN)/pytest -n auto --dist loadfile --no-loadscope-reorder

test-fast: setup-test
	PYTHONUNBUFFERED=1 $(BIN)/pytest -m "not slow" -n auto

# paw defines no Dagster components: no component YAML to check (5 s saved at every start)
dev: setup
	$(BIN)/dg dev --no-check-yaml

bench: setup-test
	@$(UV) sync --frozen --inexact --extra bench --quiet
	$(BIN)/python -m bench --size $(SIZE)

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && ../$(BIN)/sqlfluff lint models tests

clean:
	rm -rf data/landing data/lake data/warehouse $(DAGSTER_HOME) dbt_project/target
