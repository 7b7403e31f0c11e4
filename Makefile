# eventlake: `make demo` runs the pipeline, `make test` runs every test.
# Both install what they need the first time (a .venv, the package, Kafka's jars,
# and, when run as root on Debian, the system packages the tests use).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test lint typecheck unit integration e2e browser bench install system-deps jars clean

demo: install jars
	$(BIN)/eventlake demo $(if $(DURATION),--duration $(DURATION),)

test: install system-deps jars lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

# kcat and Chromium come from Debian's packages; Java 17 runs Kafka.
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

integration: install jars
	$(BIN)/pytest tests/integration

e2e: install jars
	$(BIN)/pytest tests/e2e

browser: install system-deps jars
	$(BIN)/pytest tests/browser

bench: install jars
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .eventlake lake .pytest_cache .mypy_cache .ruff_cache
