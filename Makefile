# make lab  — create .venv, install dosandbox with notebook extras, open JupyterLab on notebooks/
# make test — create .venv, install dosandbox with test extras, run the whole test suite
# make test-other-pythons — the fast suite on every other Python 3.11+ here, each in .venv-<version>
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: lab test test-other-pythons lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.lab-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[notebook]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# LAB_ARGS: extra options for jupyter lab (the tests pass --no-browser, a port and a token).
lab: $(VENV)/.lab-installed
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

test: $(VENV)/.test-installed
	@if command -v npm >/dev/null 2>&1 && [ -f tests/conformance/setup.sh ]; then \
		bash tests/conformance/setup.sh; fi
	$(PY) -m pytest

# Skips $(PYTHON)'s version (that is what `make test` runs on); see .ci/test-other-pythons.
test-other-pythons:
	PYTHON=$(PYTHON) bash .ci/test-other-pythons

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check dosandbox tests benchmarks

bench: $(VENV)/.test-installed
	for f in benchmarks/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .venv-*/ .pytest_cache
