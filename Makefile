# reader: common tasks. Needs Python 3.11+ (set PYTHON=python3.12 to pick another one).
#
#   make run     migrate, collect static files, seed the demo data, serve on 127.0.0.1:8000
#                with a Celery worker beside gunicorn (both stop together; GUNICORN_START_WORKER=0: no worker)
#   make test    run the test suite in 2 processes (PYTEST_WORKERS=N; PYTEST_ARGS="-x -k cache" passes arguments)
#   make lint    ruff check + ruff format --check
#   make bench   run bench/run.py, floor/hit/off with wrk (BENCH_ARGS passes arguments to it);
#                without wrk it falls back to Locust: install wrk with `apt-get install -y wrk`
#   make loadtest  realistic Locust load test, cache on and off at 50, 200, 500 users (about 12 min);
#                  writes docs/loadtest.md and its plots (LOADTEST_ARGS="--users 50 --seconds 20" shortens it)
#   make clean   remove generated files (make distclean also removes .venv)
#
# DATABASE_URL and REDIS_URL come from the environment; without them the settings use
# a SQLite file in the project folder and redis://127.0.0.1:6379/0. The settings refuse to
# start without SECRET_KEY (DEBUG is off): `make run` takes it from the environment, else
# from the untracked .env file, where it writes a random one the first time.
# PROMETHEUS_MULTIPROC_DIR (default .prometheus/) is where `make run`'s workers write their
# metrics; a Celery worker started next to it must be given the same directory.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamp files: pip runs again only when a requirements file is newer than its stamp.
PROD_STAMP := $(VENV)/.requirements.stamp
DEV_STAMP := $(VENV)/.requirements-dev.stamp

PYTEST_ARGS ?=
# Test processes (pytest-xdist); 0 runs the suite in this process.
PYTEST_WORKERS ?= 2
BENCH_ARGS ?=
LOADTEST_ARGS ?=
export GUNICORN_BIND ?= 127.0.0.1:8000
# Its default is not exported: only the server (and the task worker) get it, not the test suite.
PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/.prometheus

.PHONY: help run test lint bench loadtest clean distclean dev-key

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "reader needs Python 3.11 or newer; '$(PYTHON)' is: $$($(PYTHON) -V 2>&1)." >&2; \
		echo "Run e.g. 'make $(MAKECMDGOALS) PYTHON=python3.12'." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV) (on Debian/Ubuntu: apt-get install python3-venv)." >&2; exit 1; }

$(PROD_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(PROD_STAMP)
	$(BIN)/python -m pip install -r requirements-dev.txt
	@touch $@

# A SECRET_KEY line in .env (kept there, never committed), unless one is there already.
dev-key:
	@grep -qs '^SECRET_KEY=.' .env || { \
		echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env && \
		echo "Wrote a new random SECRET_KEY to .env (untracked)."; }

# SECRET_KEY from the environment wins over the one in .env.
run: $(PROD_STAMP) dev-key
	export SECRET_KEY="$${SECRET_KEY:-$$(sed -n 's/^SECRET_KEY=//p' .env | tail -n 1)}" && \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py collectstatic --noinput && \
	$(BIN)/python manage.py seed_demo && \
	mkdir -p "$(PROMETHEUS_MULTIPROC_DIR)" && \
	GUNICORN_START_WORKER=$${GUNICORN_START_WORKER:-1} PROMETHEUS_MULTIPROC_DIR="$(PROMETHEUS_MULTIPROC_DIR)" exec $(BIN)/gunicorn -c gunicorn.conf.py config.wsgi:application

test: $(DEV_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || echo "wrk not found: bench falls back to Locust (apt-get install -y wrk)" >&2
	$(BIN)/python bench/run.py $(BENCH_ARGS)

loadtest: $(DEV_STAMP)
	$(BIN)/python bench/loadtest.py $(LOADTEST_ARGS)

clean:
	rm -rf staticfiles .pytest_cache .ruff_cache .prometheus $(PROD_STAMP) $(DEV_STAMP)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
