# vivier — the commands a newcomer runs: `make demo`, `make test` and `make ui`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test test-deps lint bench clean ui

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	VIVIER_ENV=demo $(BIN)/vivier demo

# The full suite, after installing what it needs from the system (scripts/test-deps.sh): the
# system packages come first because creating the virtualenv may need python3-venv.
# Two workers, a test file each at a time: the suite waits on servers and subprocesses as much
# as it computes, so even 2 cores gain (~5 min -> ~3.5 min); PYTEST_WORKERS=0 runs it serially.
PYTEST_WORKERS ?= 2
test: test-deps
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=20 $(PYTEST_ARGS)

test-deps:
	scripts/test-deps.sh

# A local Prefect server (127.0.0.1:$${VIVIER_UI_PORT:-4300}, PREFECT_HOME=var/prefect), the
# deployments and a worker on `make demo`'s database; Ctrl-C stops them (scripts/ui.sh).
ui: $(STAMP)
	scripts/ui.sh

lint: $(STAMP)
	$(BIN)/ruff check vivier app flows tasks data_checks demo testing tests bench
	$(BIN)/mypy

# Not part of `make test`: seeds BENCH_N candidates in a throwaway PostgreSQL, runs the weekly flow
# and a bare loop against a real SMTP sink (bench/README.md). BENCH_PROFILE=1 adds py-spy profiles.
BENCH_N ?= 100000
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	BENCH_N=$(BENCH_N) $(BIN)/python -m bench.run

clean:
	rm -rf var/ .pytest_cache
