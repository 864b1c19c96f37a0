# Haystack's developer entry points. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench services tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,browser]"
	touch $@

## run: set up and serve Haystack (API, UI, worker) on the embedded default (./haystack.db)
run: $(STAMP)
	$(BIN)/haystack serve

## test: set up, make sure MariaDB and PostgreSQL run and the test tools are installed, lint,
##       type-check and run every test
test: $(STAMP) services tools lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## unit: the fast tests only (SQLite, no servers needed)
unit: $(STAMP)
	HAYSTACK_TEST_BACKENDS=sqlite $(BIN)/pytest tests/unit

services:
	scripts/ensure-services.sh

tools:
	scripts/ensure-tools.sh

bench: $(STAMP) services
	$(BIN)/python bench/store_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
