# make lab  — create .venv, install dosandbox with notebook extras, copy the lessons into
#             my-notebooks/ (git-ignored; copies already there are kept) and open JupyterLab there
# make lab-reset — replace the copies in my-notebooks/ with fresh ones (your changes are lost)
# make test — create .venv, install dosandbox with test extras, run the whole test suite
# make test-other-pythons — the fast suite on every other Python 3.11+ here, each in .venv-<version>
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: lab lab-reset test test-other-pythons lint bench clean

# Where `make lab` works: copies of notebooks/, so running and saving lessons never modifies
# the clone (no conflict on the next git pull).
LAB_DIR ?= my-notebooks
# Jupyter refuses to start as root without --allow-root (Docker, Codespaces, cloud VMs).
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.lab-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[notebook]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# LAB_ARGS: extra options for jupyter lab, e.g. LAB_ARGS="--no-browser --port=8899".
lab: $(VENV)/.lab-installed
	@mkdir -p "$(LAB_DIR)"
	@for nb in notebooks/*.ipynb; do \
		[ -e "$(LAB_DIR)/$${nb##*/}" ] || cp "$$nb" "$(LAB_DIR)/"; done
	@echo "Lessons copied to $(LAB_DIR)/ (your own copies: save freely; make lab-reset renews them)"
	$(VENV)/bin/jupyter lab "$(LAB_DIR)" $(ALLOW_ROOT) $(LAB_ARGS)

lab-reset:
	rm -rf "$(LAB_DIR)"
	$(MAKE) lab

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

clean:  # keeps my-notebooks/: it holds your work
	rm -rf $(VENV) .venv-*/ .pytest_cache
