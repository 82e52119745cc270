# Every target does its own set-up from a fresh clone: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/run_notebooks.py notebooks

test: $(STAMP)
	$(PY) -m ruff check nbcache tests scripts benchmarks
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m benchmarks.run

lint: $(STAMP)
	$(PY) -m ruff check nbcache tests scripts benchmarks

clean:
	rm -rf $(VENV) .nbcache .pytest_cache
