# Two commands on a fresh machine: `make demo` and `make test`.
# Both create or reuse .venv, install what is missing, then run.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test setup java browser clean help

help:
	@echo "make demo   - set up, then run the whole pipeline on a generated sample (everything in demo_out/, its MLflow store too)"
	@echo "make test   - set up (Python deps, Java for Spark, Chromium for report screenshots), then run the tests"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"churnml needs Python 3.11, found {sys.version.split()[0]}; set PYTHON=/path/to/python3.11"'
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Spark needs a JVM; install one when missing (Debian/Ubuntu).
java:
	@command -v java >/dev/null 2>&1 || { echo "Installing Java 17 for Spark..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

# Headless Chromium renders report screenshots in the tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "Installing Chromium for report screenshots..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(BIN)/churnml demo --out demo_out

# One OpenMP / OpenBLAS thread per worker: each worker is already one of the cores, and idle
# BLAS threads spinning beside the other worker's made the CLI training tests 10-15% slower.
# LightGBM takes its threads from churnml (num_threads), not from these.
test: $(STAMP) java browser
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf demo_out .pytest_cache
