# eventlake: `make demo` runs the pipeline, `make test` runs every test, `make check` is
# the fast loop while coding (lint, types, unit tests; no root, no Java, under a minute).
# Each installs what it needs the first time: a .venv with the locked dependencies and
# the package; `test` and `demo` also Kafka's jars and, as root on Debian, the system
# packages the tests use.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Every dependency pinned with its hashes; pyproject.toml keeps the ranges library users get.
LOCK    := requirements/lock.txt
# Unit tests in parallel processes (pytest-xdist); WORKERS=0 runs them in this process.
WORKERS ?= 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test check lint typecheck unit integration e2e browser bench install lock system-deps jars clean

demo: install jars
	$(BIN)/eventlake demo $(if $(DURATION),--duration $(DURATION),)

test: install system-deps jars lint typecheck
	$(BIN)/pytest --durations=40 $(PYTEST_ARGS)

# The fast loop: never calls system-deps or jars, so it needs neither root nor Java.
check: lint typecheck
	$(BIN)/pytest tests/unit -q -n $(WORKERS) $(PYTEST_ARGS)

install: $(STAMP)

# Locked, hash-checked dependencies first (setuptools and wheel among them), then the
# project itself, built with those instead of whatever PyPI serves at that moment.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check >&2; \
		echo "$(LOCK) misses what pyproject.toml asks for: run 'make lock'" >&2; exit 1; }
	@touch $(STAMP)

# Re-resolve the lock after a change to pyproject.toml's dependencies: versions already in
# the lock are kept when they still fit; `make lock UPGRADE=1` takes the newest allowed.
# Universal: one lock for every platform and Python >= 3.11 (markers say which needs what).
# --system-certs: trust the system's CA store, as pip does, so a proxy's CA works too.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/uv pip compile -q pyproject.toml requirements/build.in --extra test --extra dev \
		--generate-hashes --universal --python-version 3.11 --system-certs $(if $(UPGRADE),--upgrade,) -o $(LOCK)

# kcat, Chromium, iproute2 and openssl come from Debian's packages; Java 17 runs Kafka.
# postgresql: the server the tests start for the catalog on PostgreSQL.
system-deps:
	@bash scripts/system-deps.sh

jars: install
	$(BIN)/eventlake broker fetch

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install system-deps jars
	$(BIN)/pytest tests/integration

e2e: install jars
	$(BIN)/pytest tests/e2e

browser: install system-deps jars
	$(BIN)/pytest tests/browser

bench: install jars
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .eventlake lake .pytest_cache .mypy_cache .ruff_cache
