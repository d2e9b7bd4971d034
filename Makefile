# Quick start: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data

.PHONY: install test lint demo dev cluster serve run clean bench bench-quick screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster]'
	# An editable install leaves the project's own modules uncompiled; compile them as pip
	# compiles a package's, so no command pays for it (PYTHONDONTWRITEBYTECODE would make
	# every command pay it).
	$(BIN)/python -m compileall -q sources schemas warehouse orchestration
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check sources schemas warehouse orchestration tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check sources schemas warehouse orchestration tests benchmarks

# Every benchmark against its target (minutes: builds a 5M-payment site); figures in
# docs/results/bench.json. bench-quick checks the harness at small sizes in seconds.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

# The whole pipeline on the built-in demo world, then the site at http://127.0.0.1:8001/
demo: $(STAMP)
	$(BIN)/moneytrail demo --data-dir $(DATA)

# The site's pages as the browser tests see them (real Chromium, 1280 px and 390 px), kept in
# docs/img for the README.
screenshots: $(STAMP)
	MONEYTRAIL_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q -p no:randomly tests/browser

# The real UK registry: harvest, load and publish (needs the internet).
run: $(STAMP)
	$(BIN)/moneytrail run --data-dir $(DATA)

serve: $(STAMP)
	$(BIN)/moneytrail serve --data-dir $(DATA)

# The Dagster UI on this project (asset graph, checks, schedule, sensor) and on DATA: after
# `make demo`, its publishers, runs and check results (docs/dagster.md). Ctrl-C stops it all.
DEV_PORT ?= 3000
dev: $(STAMP)
	DAGSTER_HOME=$$($(BIN)/python -m orchestration.instance $(DATA)) \
		MONEYTRAIL_DATA_DIR=$(abspath $(DATA)) \
		exec $(BIN)/dagster dev -m orchestration.definitions -p $(DEV_PORT)

# The demo world on a Dagster deployment on this machine: its own RabbitMQ broker, CLUSTER_WORKERS
# Celery workers, the daemon and the UI (port DEV_PORT) with PostgreSQL storage, and the
# warehouse in PostgreSQL (docs/dagster.md). Ctrl-C stops everything it started.
CLUSTER_DATA ?= data-cluster
CLUSTER_WORKERS ?= 2
cluster: $(STAMP)
	$(BIN)/moneytrail cluster --data-dir $(CLUSTER_DATA) --workers $(CLUSTER_WORKERS) \
		--ui-port $(DEV_PORT)

clean:
	rm -rf $(VENV) $(DATA) $(CLUSTER_DATA)
