# Two commands on a fresh machine: `make run` serves on SQLite, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint bench vendor clean i18n

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/samvirke serve --host 127.0.0.1 --port 8000

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check app tests tools bench
	$(BIN)/ruff format --check app tests tools bench
	$(BIN)/mypy

bench: $(VENV)/.test-installed  # each prints one JSON document; see docs/benchmarks.md
	$(BIN)/python bench/bench_append.py
	$(BIN)/python bench/bench_fanout.py

vendor:  # refresh htmx, idiomorph and Swagger UI in app/static/vendor/ from npm
	bash scripts/vendor.sh

clean:
	rm -rf $(VENV) .pytest_cache

# Refresh the translation catalogues after changing user-visible text.
i18n: $(VENV)/.installed  # then translate what is new in app/translations/nb (a test checks)
	BIN=$(BIN) scripts/i18n.sh
