# gross-profit: `make demo` and `make test` are all a new machine needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export SPARK_LOCAL_IP ?= 127.0.0.1
export GROSS_PROFIT_HOME ?= $(CURDIR)/.gross_profit

.PHONY: demo test install ui clean bench bench-stages

$(STAMP): pyproject.toml setup.py
	scripts/ensure-java
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: fresh local lake, the bundled seed sample, the whole pipeline; prints where the report is
demo: $(STAMP)
	$(BIN)/gross-profit demo

## test: every test (unit, Spark, end to end, the real dagster dev), in two processes
test: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder

## ui: the Dagster UI over the same lake and runs as the CLI (http://127.0.0.1:3000)
ui: $(STAMP)
	DAGSTER_HOME=$(GROSS_PROFIT_HOME)/dagster_home $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## bench: the benchmark harness (never part of `make test`); SIZES=1M,5M,20M LANES=a,b,c,d,e,f
SIZES ?= 200K
LANES ?= a,b,c,d,e,f
bench: $(STAMP)
	$(BIN)/python -m benchmarks --sizes $(SIZES) --lanes $(LANES)

## bench-stages: where lanes (a), (b) and (d) spend their time (Spark event log, Dagster steps); SIZE=1M
SIZE ?= 1M
bench-stages: $(STAMP)
	$(BIN)/python -m benchmarks.stage_times --size $(SIZE)

clean:
	rm -rf $(VENV) .gross_profit .pytest_cache *.egg-info
