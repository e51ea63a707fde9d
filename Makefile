# leadpersona: `make demo` runs the main job, `make test` runs every quality gate.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test quick lint format typecheck pytest unit integration e2e bench field-vectors clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/leadpersona demo

test: lint typecheck pytest

# The fast gates: lint, types and the tests not marked slow.
quick: lint typecheck
	$(VENV)/bin/pytest -q -m 'not slow'

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy src

pytest: $(STAMP)
	$(VENV)/bin/pytest --cov --cov-report=term

unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit

integration: $(STAMP)
	$(VENV)/bin/pytest tests/integration

e2e: $(STAMP)
	$(VENV)/bin/pytest tests/e2e

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks

# The model's vectors of the packaged field-of-study examples (after changing any example).
field-vectors: $(STAMP)
	$(PY) -m leadpersona.mapping.example_vectors

clean:
	rm -rf $(VENV) .leadpersona .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
