# The two commands: `make demo` runs the main job on the bundled data, `make test` runs the tests.
# Each creates or refreshes .venv first (torch==2.13.0 is installed before anything else, so pip
# does not pull a multi-GB CUDA build on CPU machines; GPU users can install their own torch).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.molgan-installed
PYTEST_ARGS ?=

.PHONY: demo test venv lint clean

demo: $(STAMP)
	$(VENV)/bin/molgan demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check molgan tests benchmarks
	$(VENV)/bin/ruff format --check molgan tests benchmarks

clean:
	rm -rf $(VENV) runs data/processed data/splits/processed .pytest_cache
