# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Install and run the hub on the embedded default (SQLite, in-process broker, demo data).
run: $(STAMP)
	$(BIN)/hub serve

## Install and run the whole test suite (SQLite; then PostgreSQL when HUB_TEST_POSTGRES_URL is set or CI=true).
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" ./scripts/test.sh

## Lint and type-check the hub's packages (run by CI before the tests).
lint: $(STAMP)
	$(BIN)/ruff format --check hub connectors schema admin
	$(BIN)/ruff check hub connectors schema admin
	$(BIN)/mypy

## Rewrite the code in the house style (ruff format and ruff's safe fixes).
format: $(STAMP)
	$(BIN)/ruff format hub connectors schema admin
	$(BIN)/ruff check --fix hub connectors schema admin

bench: $(STAMP)
	$(BIN)/python -m bench

schema: $(STAMP)
	$(BIN)/hub export-schema

clean:
	rm -rf $(VENV) data .pytest_cache
