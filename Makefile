# Smarter: `make run` (the whole platform on embedded defaults) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run test lint format migrate worker beat seed bench docker-up clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Smarter needs Python 3.11 ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The chat renderer's browser libraries come from npm (package.json), into node_modules/.
NPM ?= npm
npm-check = @command -v $(NPM) >/dev/null || { echo "Smarter needs Node.js and npm (for the chat's browser libraries)"; exit 1; }

# The embedded default needs no MySQL client headers: only `make test`, CI and the image add them.
$(VENV)/.run-installed: pyproject.toml package-lock.json | $(BIN)/python
	$(npm-check)
	$(NPM) ci --omit=dev --no-audit --no-fund --loglevel=error
	$(BIN)/pip install --quiet -e .
	@touch $@

# The command-line client is a distribution of its own (cli/); its tests run with the platform's.
# The tests need the npm devDependencies too (axe-core, for the accessibility checks).
$(VENV)/.test-installed: pyproject.toml cli/pyproject.toml package-lock.json | $(BIN)/python
	$(npm-check)
	$(NPM) ci --no-audit --no-fund --loglevel=error
	$(BIN)/pip install --quiet -e ".[dev,mysql,postgres,pgvector-tests]" -e ./cli
	@touch $@ $(VENV)/.run-installed

# The platform's host follows PORT (`make run PORT=8080`), so that every link, the CSP and the
# URLs the API returns name the port it is served on.
run: export SMARTER_PLATFORM_HOST := $(or $(SMARTER_PLATFORM_HOST),localhost:$(PORT))
run: $(VENV)/.run-installed  ## Serve the platform on http://localhost:8000 (PORT=N for another port) with demo data
	SMARTER_LOG_FORMAT=$${SMARTER_LOG_FORMAT:-text} $(BIN)/python manage.py migrate --noinput -v 0
	SMARTER_LOG_FORMAT=$${SMARTER_LOG_FORMAT:-text} $(BIN)/python manage.py seed_demo --base-url http://localhost:$(PORT)
	SMARTER_LOG_FORMAT=$${SMARTER_LOG_FORMAT:-text} SMARTER_DEBUG=$${SMARTER_DEBUG:-true} \
		SMARTER_EMBEDDING_PRELOAD=$${SMARTER_EMBEDDING_PRELOAD:-true} \
		$(BIN)/uvicorn smarter.asgi:application --host $(HOST) --port $(PORT) --log-level warning --no-proxy-headers

# Test processes: three per core, at most 12 (a Redis database each). The tests wait on
# databases, loopback servers and subprocesses more than they compute, so more processes than
# cores finish sooner (on 2 cores: 7.5 minutes with 2, 4.8 with 6). TEST_PROCESSES=0 runs the
# tests in this process (e.g. to use a debugger).
TEST_PROCESSES ?= $(shell n=$$(( $$(nproc) * 3 )); [ $$n -gt 12 ] && n=12; echo $$n)

test: $(VENV)/.test-installed  ## Run the test suite (SMARTER_DATABASE_URL picks the database)
	SMARTER_LOG_FORMAT=$${SMARTER_LOG_FORMAT:-text} $(BIN)/pytest -q -n $(TEST_PROCESSES) $(PYTEST_ARGS)

lint: $(VENV)/.test-installed  ## ruff (lint and format check), mypy and the floors (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy smarter cli/smarter_cli
	$(BIN)/lint-imports

format: $(VENV)/.test-installed  ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(VENV)/.run-installed  ## Apply database migrations
	$(BIN)/python manage.py migrate

worker: $(VENV)/.run-installed  ## A Celery worker (needs SMARTER_REDIS_URL)
	$(BIN)/celery -A smarter worker --loglevel INFO

beat: $(VENV)/.run-installed  ## Celery beat, the periodic scheduler (needs SMARTER_REDIS_URL)
	$(BIN)/celery -A smarter beat --loglevel INFO

bench: $(VENV)/.test-installed  ## Run the benchmarks and refresh docs/performance.md
	@for script in benchmarks/[a-z]*.py; do \
		name=$$(basename $$script .py); [ "$$name" = report ] && continue; \
		echo "== $$name"; $(BIN)/python -m benchmarks.$$name || exit 1; done

docker-up:  ## The production-like stack in Docker (web, worker, beat, MySQL, Redis)
	@test -f .env || cp .env.example .env
	docker compose up -d --build

clean:  ## Remove the virtual environment, the npm packages and local state
	rm -rf $(VENV) .smarter node_modules
