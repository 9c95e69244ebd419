# Two commands do all set-up on a fresh machine: `make build` and `make test`.
# Overrides (Make variables, also read from the environment): EVENTS, DB, OUT,
# INPUT_FORMAT, INTERVAL_WIDTH, WORKERS, DASK_SCHEDULER, FULL_REBUILD, STRICT, ALERT_WEBHOOK,
# TEST_WORKERS.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

SAMPLE_EVENTS := data/al_updated_testdata.parquet
EVENTS ?= $(SAMPLE_EVENTS)
DB ?= warehouse/funnel.duckdb
OUT ?= output
INTERVAL_WIDTH ?= 0.99
WORKERS ?= 0
DASK_SCHEDULER ?=
FULL_REBUILD ?=
STRICT ?=
INPUT_FORMAT ?= events
ALERT_WEBHOOK ?=

.PHONY: build test bench lint check clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[dev]"
	touch $@

# Sample data is generated only when the default input is used and missing.
$(SAMPLE_EVENTS): | $(INSTALLED)
	$(BIN)/funnel-anomalies sample-data --output $@

build: $(INSTALLED) $(if $(filter $(SAMPLE_EVENTS),$(EVENTS)),$(SAMPLE_EVENTS))
	$(BIN)/funnel-anomalies build --events "$(EVENTS)" --input-format "$(INPUT_FORMAT)" \
		--db "$(DB)" --out "$(OUT)" \
		--interval-width "$(INTERVAL_WIDTH)" --workers "$(WORKERS)" \
		--dask-scheduler "$(DASK_SCHEDULER)" $(if $(filter 1,$(FULL_REBUILD)),--full-rebuild) \
		$(if $(filter 1,$(STRICT)),--strict) $(if $(ALERT_WEBHOOK),--alert-webhook "$(ALERT_WEBHOOK)")

# The chart's browser test drives Debian's Chromium (never a downloaded browser). It is
# installed here where it is missing and we may (root); elsewhere that test is skipped
# with the reason printed.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "chromium missing and not root: the browser test will be skipped"; \
	fi

# Most tests build a small database, mostly dbt starting up in a process of its own:
# two workers overlap them. A test file runs on one worker, so a build the file's tests
# share is made once. TEST_WORKERS=0 runs every test in this process.
TEST_WORKERS ?= 2

test: $(INSTALLED) $(CHROMIUM)
	$(BIN)/pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

bench: $(INSTALLED)
	$(BIN)/python -m funnel_anomalies.bench

# SQL is linted through dbt's own compiler. Its database, target and logs are scratch
# places of their own, so a lint never touches those of a build running beside it.
LINT_SCRATCH := $(CURDIR)/$(VENV)/sqlfluff

lint: $(INSTALLED)
	$(BIN)/ruff check python tests
	$(BIN)/ruff format --check python tests
	FUNNEL_DB=$(LINT_SCRATCH).duckdb DBT_TARGET_PATH=$(LINT_SCRATCH)-target \
		DBT_LOG_PATH=$(LINT_SCRATCH)-logs $(BIN)/sqlfluff lint dbt_project

check: lint test

clean:
	rm -rf $(VENV) warehouse output dbt_project/target dbt_project/logs
