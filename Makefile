# The habits of this project, one command each. `make run` and `make test` are the quick start.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := run.py
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint pytest test-pg axe image image-tar chromium wrk dovecot db seed clean help

help:  ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.runtime-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

db: $(VENV)/.runtime-installed  ## Create or upgrade the database schema
	$(BIN)/flask db upgrade

seed: db  ## Load the demo data (idempotent)
	$(BIN)/flask seed

run: seed  ## Serve the portal with the demo data on http://127.0.0.1:5000 (make run HOST=0.0.0.0 PORT=5001)
	@echo "Portal on http://$(HOST):$(PORT)  (demo logins: admin1 / demo1234 ...; demo only)"
	FLASK_RUN_HOST=$(HOST) FLASK_RUN_PORT=$(PORT) $(BIN)/flask run

chromium:  ## Make sure Debian's Chromium is installed for the browser tests
	@scripts/ensure-debian-package /usr/bin/chromium chromium "the browser tests"

wrk:  ## Make sure Debian's wrk is installed for the load tests and make bench
	@scripts/ensure-debian-package /usr/bin/wrk wrk "the load tests and make bench"

dovecot:  ## Make sure Debian's dovecot-imapd is installed for the IMAP tests (tests/imap)
	@scripts/ensure-debian-package /usr/lib/dovecot/imap dovecot-imapd "the IMAP tests (tests/imap)"

# axe-core for the accessibility tests (tests/browser/test_accessibility.py), from the npm registry at
# the version package-lock.json pins, into node_modules/ (git-ignored); the tests read axe.min.js from
# there and never from a CDN. npm comes from Debian when missing.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || scripts/ensure-debian-package /usr/bin/npm npm "axe-core for the accessibility tests"
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

axe: $(AXE)  ## Make sure axe-core (pinned in package-lock.json) is in node_modules/ for the accessibility tests

lint: $(VENV)/.dev-installed  ## ruff
	$(BIN)/ruff check .

# pytest-xdist workers: three on two cores, since many tests wait on a browser, a server or a child process.
PYTEST_WORKERS ?= 3

pytest: $(VENV)/.dev-installed chromium wrk dovecot axe  ## The pytest suite on SQLite (PYTEST_WORKERS=3 in parallel)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test-pg: $(VENV)/.dev-installed chromium wrk dovecot axe  ## The same suite on a throwaway PostgreSQL (installed when missing)
	PYTHON=$(BIN)/python scripts/pg-test -n $(PYTEST_WORKERS)

test: lint pytest test-pg  ## Everything CI runs: lint, the suite on SQLite, then on PostgreSQL

.PHONY: test-load audit
test-load: $(VENV)/.dev-installed  ## Load (gunicorn, 16 clients) and kill -9 crash tests alone; `make test` runs them too
	$(BIN)/python -m pytest tests/test_load_concurrency.py tests/test_reliability_crash.py

audit: $(VENV)/.dev-installed  ## pip-audit the pinned requirements; --strict fails if a package cannot be checked
	$(BIN)/pip-audit --strict -r requirements.txt

IMAGE ?= incident-portal:latest
IMAGE_TAR ?= incident-portal.tar

.PHONY: image-test
image:  ## Build the image: docker when an engine answers, else podman (as root, installed when missing)
	IMAGE=$(IMAGE) scripts/image.sh build

image-tar: image  ## Export the image to incident-portal.tar (docker save / podman save)
	IMAGE=$(IMAGE) IMAGE_TAR=$(IMAGE_TAR) scripts/image.sh save

image-test: $(VENV)/.dev-installed  ## Build, run and prove the image from outside, export and reload it (root, minutes; not in make test)
	IMAGE=$(IMAGE) IMAGE_TAR=$(IMAGE_TAR) PYTHON=$(BIN)/python scripts/image-test.sh

.PHONY: screenshots
screenshots: $(VENV)/.dev-installed chromium  ## Drive the main story (and the collaboration and queue scenes) in Chromium; PNGs to docs/screenshots/
	PYTHONPATH=. $(BIN)/python scripts/screenshots.py
	PYTHONPATH=. $(BIN)/python scripts/screenshots_collaboration.py
	PYTHONPATH=. $(BIN)/python scripts/screenshots_queue.py

.PHONY: demo
demo: $(VENV)/.dev-installed chromium  ## Record the main story in Chromium: docs/demo/story.webm + poster.png (installs Debian's ffmpeg)
	@scripts/ensure-debian-package /usr/bin/ffmpeg ffmpeg "the demo video (make demo)"
	PYTHONPATH=. $(BIN)/python scripts/demo.py

.PHONY: bench
bench: $(VENV)/.dev-installed wrk  ## wrk against 1k/100k/1M incidents and a baseline (minutes; BENCH_SIZES=1k BENCH_DURATION=3 is quick)
	$(BIN)/python -m bench.run

.PHONY: bench-pg
bench-pg: $(VENV)/.dev-installed wrk  ## make bench on PostgreSQL (Debian's, started for the run; results in bench/results/postgresql/)
	BENCH_DATABASE=postgresql $(BIN)/python -m bench.run

clean:  ## Remove the virtualenv and local databases
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
