# The only set-up a newcomer needs: `make run` and `make test` (Debian/Ubuntu, Python 3.11).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export STOCKLEDGER_VAR_DIR ?= $(CURDIR)/var

APT_PACKAGES := libmariadb-dev pkg-config build-essential
APT_TEST_PACKAGES := chromium postgresql-contrib

.PHONY: run test lint bench deps deps-test clean screenshots

# System libraries (mysqlclient builds against libmariadb). Skipped when already present.
deps:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "Installing Debian packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); fi

deps-test: deps
	@if ! dpkg -s $(APT_TEST_PACKAGES) >/dev/null 2>&1; then \
	  echo "Installing Debian packages: $(APT_TEST_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_TEST_PACKAGES); fi

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: deps $(BIN)/activate
	$(BIN)/stockledger migrate --no-input -v0
	$(BIN)/stockledger demo
	@echo
	@echo "  stockledger is starting on http://$(HOST):$(PORT)/"
	@echo "  Log in at http://$(HOST):$(PORT)/login/ with a demo user printed above (e.g. admin / admin-demo-1)."
	@echo "  API docs: http://$(HOST):$(PORT)/api/v1/docs/   Admin: http://$(HOST):$(PORT)/admin/"
	@echo
	$(BIN)/stockledger serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests $(wildcard bench)

# The whole suite on SQLite, then on PostgreSQL and MariaDB when their URLs are set.
test: deps-test $(VENV)/.test-installed lint
	@set -e; failed=""; \
	echo "=== tests on SQLite ==="; \
	DATABASE_URL= $(BIN)/pytest -q -p no:randomly || failed="$$failed sqlite"; \
	if [ -n "$$STOCKLEDGER_TEST_POSTGRES_URL" ]; then \
	  echo "=== tests on PostgreSQL ==="; \
	  DATABASE_URL="$$STOCKLEDGER_TEST_POSTGRES_URL" $(BIN)/pytest -q || failed="$$failed postgresql"; fi; \
	if [ -n "$$STOCKLEDGER_TEST_MARIADB_URL" ]; then \
	  echo "=== tests on MariaDB ==="; \
	  DATABASE_URL="$$STOCKLEDGER_TEST_MARIADB_URL" $(BIN)/pytest -q || failed="$$failed mariadb"; fi; \
	if [ -n "$$failed" ]; then echo "FAILED on:$$failed"; exit 1; fi

bench: $(VENV)/.test-installed
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/recompute.py

# PNGs of the main screens (desktop and 375 px) into docs/screenshots/, from a throw-away demo database.
screenshots: deps-test $(VENV)/.test-installed
	$(BIN)/python -m tests.web.screenshots

clean:
	rm -rf $(VENV) var

include Makefile.torture
