# Every target does its own set-up from a fresh clone: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium
# apt needs root: sudo only when not root already.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check bench corpus lint lab clean screenshots

# The C accelerators are compiled at install (hatch_build.py): editing one reinstalls, which rebuilds them in place.
$(STAMP): pyproject.toml hatch_build.py nbcache/_strhash.c nbcache/_bindings.c $(wildcard nbcache/_blake3/*.c nbcache/_blake3/*.h nbcache/_blake3/*.S)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The browser tests drive Debian's Chromium; installed once, only when missing.
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium

demo: $(STAMP)
	$(PY) scripts/run_notebooks.py notebooks

test: $(STAMP) $(CHROMIUM)
	$(PY) -m ruff check nbcache tests scripts benchmarks
	$(PY) -m mypy
	$(PY) -m pytest

# The edit loop, under a minute: lint, types and the unit tests (no kernels, browsers, S3 server or benchmarks).
check: $(STAMP)
	$(PY) -m ruff check nbcache tests scripts benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider -n auto tests --ignore=tests/integration --ignore=tests/benchmarks \
		--ignore=tests/scenarios

bench: $(STAMP)
	$(PY) -m benchmarks.run

# Example galleries nobody on this project wrote (scikit-learn's and matplotlib's, from their source
# distributions, downloaded once into .corpus-cache/), plain and under %%cache; the table goes into the README.
corpus: $(STAMP)
	$(PY) -m pip install --quiet matplotlib
	$(PY) scripts/corpus.py --readme README.md

# JupyterLab on localhost only, with the notebooks; new notebooks use the "Python 3 (nbcache)" kernel.
lab: $(STAMP)
	$(PY) -m jupyterlab --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
		--MappingKernelManager.default_kernel_name=nbcache $(if $(SUDO),,--allow-root)

# The README's "What you see" images: the browser tour in JupyterLab saves each state's cell in docs/screenshots/.
screenshots: $(STAMP) $(CHROMIUM)
	NBCACHE_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/integration/test_browser.py \
		-k lab

lint: $(STAMP)
	$(PY) -m ruff check nbcache tests scripts benchmarks

clean:
	rm -rf $(VENV) .nbcache .pytest_cache .corpus-cache
