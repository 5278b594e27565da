# Groundswell — the front door. `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA := deploy/kafka/kafka.sh

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/groundswell: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

setup: $(BIN)/groundswell ## Make .venv with the project and its dev tools installed

SYSTEM_PACKAGES := prometheus prometheus-alertmanager chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

system-deps: ## Install the Debian packages the tests drive: Prometheus, Alertmanager, Chromium
	@if command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null \
	  && command -v chromium >/dev/null; then exit 0; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	$(SUDO) apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null \
	  || { $(SUDO) apt-get update -q >/dev/null \
	       && $(SUDO) apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; }

kafka-up: setup ## Fetch Kafka from Maven Central (once) and start the local KRaft broker
	PYTHON=$(BIN)/python $(KAFKA) start

kafka-down: ## Stop the local broker
	PYTHON=$(BIN)/python $(KAFKA) stop

demo: setup ## Broker, worker and a bundled outage scenario: alerts on screen
	$(BIN)/groundswell demo

# $(call with-broker,COMMANDS): run COMMANDS with the local broker up, stopping it after
# only if it was started here; the exit status is that of COMMANDS.
with-broker = started=0; \
	if ! PYTHON=$(BIN)/python $(KAFKA) status >/dev/null 2>&1; then \
	  PYTHON=$(BIN)/python $(KAFKA) start || exit 1; started=1; fi; \
	( $(1) ); rc=$$?; \
	if [ $$started = 1 ]; then PYTHON=$(BIN)/python $(KAFKA) stop; fi; \
	exit $$rc

test: setup system-deps ## Lint, type-check, unit and integration tests (starts and stops the broker)
	$(MAKE) lint
	@$(call with-broker,GROUNDSWELL_REQUIRE_TOOLS=1 $(BIN)/pytest -q)

lint: setup ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy models geo streams

bench: setup ## Benchmarks, results written to BENCHMARKS.md (starts and stops the broker)
	@$(call with-broker,$(BIN)/python -m streams.bench --out BENCHMARKS.md)

soak: setup ## An hour of live posts, then an outage storm, through a worker (not in CI)
	@$(call with-broker,$(BIN)/python -m streams.soak --minutes $${MINUTES:-60} \
	  && $(BIN)/python -m streams.soak --storm)

.PHONY: help setup system-deps kafka-up kafka-down demo test lint bench soak
