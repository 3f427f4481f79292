# MindDocs — the two set-up commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_HOST ?= 127.0.0.1
PYTEST_ARGS ?=

.PHONY: run test install install-test services system-packages db-upgrade bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[media]'
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,media]'
	touch $@

NPM_STAMP := node_modules/.installed

$(NPM_STAMP): package.json package-lock.json
	npm ci --include=dev --ignore-scripts --no-audit --no-fund
	touch $@

# The UI's Tailwind classes, compiled once here instead of in every browser (ui/setup.py serves the file).
TAILWIND_CSS := ui/static/tailwind.css

$(TAILWIND_CSS): $(NPM_STAMP) $(shell find ui \( -name '*.py' -o -name '*.js' -o -name '*.css' \) -not -path 'ui/static/*')
	mkdir -p $(@D)
	node_modules/.bin/tailwindcss --input ui/tailwind.css --output $@ --minify

install: $(STAMP) $(NPM_STAMP) $(TAILWIND_CSS)

install-test: $(TEST_STAMP)

db-upgrade: install
	$(VENV)/bin/minddocs db upgrade

## make run: install everything, migrate, and serve on http://127.0.0.1:8080 (SQLite, local files, in-process worker)
run: install db-upgrade
	$(VENV)/bin/minddocs serve

## make services: start PostgreSQL and Redis when they do not answer (Debian packages)
services:
	@bash scripts/ensure-services.sh

## make system-packages: Debian packages the tests use (Tesseract + languages, espeak-ng, sox)
system-packages:
	@bash scripts/ensure-system-packages.sh

## make test: install test needs, make sure PostgreSQL and Redis are up, run the whole suite
test: install-test $(NPM_STAMP) $(TAILWIND_CSS) services system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/runtime_overhead.py

clean:
	rm -rf $(VENV) data .pytest_cache
