# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRANSLATIONS := matchmaker/translations
PO := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)
HOST ?= 127.0.0.1
PORT ?= 5000

SERVE_BIND ?= 127.0.0.1:8000

.PHONY: run serve test install translations extract-messages migrate demo bench bench-bundling bench-matching bench-hub bench-web lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench]'
	touch $(STAMP)

install: $(STAMP) $(MO)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

translations: $(MO)

# Extract UI texts and merge them into the catalogues (then translate the new entries).
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext --no-location --sort-output \
		-o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D messages --no-fuzzy-matching --ignore-obsolete

migrate: install
	$(BIN)/matchmaker db upgrade heads

demo: migrate
	MATCHMAKER_DEMO=1 $(BIN)/matchmaker demo

# Serve the demo on http://127.0.0.1:5000 (SQLite under instance/, demo accounts enabled).
run: demo
	MATCHMAKER_DEMO=1 $(BIN)/matchmaker run --host $(HOST) --port $(PORT)

# The production stack (Gunicorn, RQ worker, scheduler) on DATABASE_URL and REDIS_URL; see
# README, Deploying. Ctrl-C stops all of it.
serve: migrate
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} MATCHMAKER_JOB_QUEUE=rq \
		$(BIN)/matchmaker serve --bind $(SERVE_BIND)

# The whole suite, on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).
test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: bench-bundling bench-matching bench-hub bench-web

bench-bundling: install
	$(BIN)/python benchmarks/bundling.py $(BENCH_ARGS)

bench-matching: install
	$(BIN)/python benchmarks/matching.py $(BENCH_ARGS)

bench-hub: install
	$(BIN)/python benchmarks/hub.py $(BENCH_ARGS)

# Every main page of every role on the production stack, town and province side by side.
bench-web: install
	$(BIN)/python benchmarks/web.py $(BENCH_ARGS)

SERVICES := $(wildcard matchmaker/*/services.py) $(wildcard matchmaker/*/services)

# Style, types (geo/ and every feature's services under mypy --strict) and the direction of
# imports (import-linter contracts in pyproject.toml: geo is pure, views above services above
# models, no feature imports another feature's views).
lint: install
	$(BIN)/ruff check matchmaker geo tests benchmarks
	$(BIN)/mypy --strict geo
	$(BIN)/mypy --strict --follow-imports=silent $(SERVICES)
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache
