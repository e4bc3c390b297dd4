# riskopt: set-up, run, test and benchmark. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/aave-v3-ethereum.toml
# The price data lives outside the project; point at ../shared/datasets when it is there.
SHARED_DATA := $(abspath ../shared/datasets)
export RISKOPT_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/*.csv),$(SHARED_DATA),)

.PHONY: venv run test test-fast bench clean chromium postgresql

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/riskopt run $(CONFIG)

# The HTML reports are checked in headless Chromium: Debian's package, installed where missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium for the browser tests"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) || \
	    echo "warning: could not install chromium; the browser tests will fail in CI"; }

# The shared-study tests start a real PostgreSQL server (initdb in a temporary folder, Unix socket
# only): Debian's package, installed where missing.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { echo "installing Debian's postgresql for the shared-study tests"; \
	    (apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1)) || \
	    echo "warning: could not install postgresql; the shared-study tests will skip (and fail in CI)"; }

test: $(STAMP) chromium postgresql
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
