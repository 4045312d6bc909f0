# The two commands a new user needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.DEFAULT_GOAL := help
.PHONY: help run dev test browser wrk nginx faults cluster-test docker-test schemathesis lint format requirements bench bench-import clean

help:
	@echo "make run    - install, migrate, load the demo catalogue (real books), serve on http://$(HOST):$(PORT)/ (web page: /app/)"
	@echo "make test   - install and run the whole test suite"
	@echo "make dev    - development server with autoreload (DEBUG on)"
	@echo "make lint   - ruff and mypy"
	@echo "make faults - Redis/PostgreSQL outages and worker signals (docs/reliability.md)"
	@echo "make cluster-test - primary + replica, 3 app instances behind nginx, under load (docs/scaling.md)"
	@echo "make docker-test - build the image with docker and run it against PostgreSQL and Redis"
	@echo "make schemathesis - fuzz the running API from its OpenAPI schema"
	@echo "make bench  - load benchmark: ours vs the lecture's code and a ceiling (ROWS=, SOAK=, QUICK=1, BENCH_ARGS=)"
	@echo "make bench-import - import rate into PostgreSQL vs plain COPY (BENCH_ARGS=--rows N)"
	@echo "make requirements - re-pin requirements*.txt from pyproject.toml"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: make PYTHON=/path/to/python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-run

# A local secret key for `make run`, kept in .env (ignored by git).
.env:
	@$(PYTHON) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(50))' > $@
	@echo "Wrote a new SECRET_KEY to .env"

run: $(VENV)/.installed-run .env
	$(BIN)/python manage.py create_database
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_books --real
	@echo ""
	@echo "  Web page:  http://$(HOST):$(PORT)/app/   (browse, search and, signed in, edit the books)"
	@echo "  API root:  http://$(HOST):$(PORT)/"
	@echo "  Books:     http://$(HOST):$(PORT)/books/"
	@echo "  API docs:  http://$(HOST):$(PORT)/api/docs/   (schema: /api/schema/)"
	@echo "  Admin:     http://$(HOST):$(PORT)/admin/      (make an admin: $(BIN)/python manage.py createsuperuser)"
	@echo "  A token:   $(BIN)/python manage.py create_api_user alice   (with --password, alice may sign in too)"
	@echo "             or POST {\"username\": ..., \"password\": ...} to http://$(HOST):$(PORT)/auth/token/"
	@echo ""
	exec $(BIN)/python -m deploy.server

dev: $(VENV)/.installed-dev
	$(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The whole suite, browser tests included (they need Chromium, the benchmark's Lua tests wrk,
# the deployment tests nginx: all installed here when missing).
test: $(VENV)/.installed-dev browser wrk nginx
	$(BIN)/python -m pytest $(PYTEST_ARGS)

browser:
	@scripts/ensure-chromium.sh

wrk:
	@scripts/ensure-wrk.sh

nginx:
	@scripts/ensure-nginx.sh

# Outages of Redis and PostgreSQL and worker signals, on private servers the tests start
# (needs PostgreSQL 15 binaries and redis-server; root or a user who may run initdb).
faults: $(VENV)/.installed-dev
	$(BIN)/python -m pytest faults $(PYTEST_ARGS)

# A whole cluster on this machine: PostgreSQL primary and streaming replica, the machine's Redis,
# three app instances and nginx with deploy/nginx's config, on loopback ports (docs/scaling.md).
cluster-test: $(VENV)/.installed-dev nginx wrk
	$(BIN)/python -m pytest cluster $(PYTEST_ARGS)

# The unchanged Dockerfile built and run for real: a Docker engine from Debian's packages and,
# offline, a stand-in base image (scripts/docker-offline-standin.sh), then a round trip.
docker-test:
	scripts/docker-test.sh

# Property-based API fuzzing from the OpenAPI schema against a running server.
schemathesis: $(VENV)/.installed-dev
	.ci/schemathesis.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin after editing the ranges in pyproject.toml (needs network access to PyPI).
requirements: $(VENV)/.installed-dev
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev --constraint requirements.txt \
		--output-file requirements-dev.txt pyproject.toml

# Load benchmark against PostgreSQL and Redis, with wrk (bench/run.py; installed when missing).
# make bench ROWS=1000000 | make bench SOAK=300 | make bench QUICK=1 | make bench BENCH_ARGS='--only ours'
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(if $(ROWS),--rows $(ROWS)) $(if $(SOAK),--soak $(SOAK)) $(if $(QUICK),--quick) $(BENCH_ARGS)

# Import rate into PostgreSQL against a plain COPY of the same file (docs/import.md).
bench-import: $(VENV)/.installed-dev
	$(BIN)/python bench/import_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache test-output
