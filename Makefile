# DataGuardian. `make run` starts everything (embedded mode unless DATABASE_URL/REDIS_URL are
# set); `make test` runs the checks, then the tests on the local PostgreSQL and Redis and
# again on the embedded SQLite and file-system broker.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dataguardian
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_DATA_DIR ?= $(CURDIR)/data/test
TEST_EMBEDDED_DATA_DIR ?= $(CURDIR)/data/test-embedded

.PHONY: run test checks test-server test-embedded lint format install clean

# The development venv: runtime, dev tools and the build backend (requirements-dev.lock).
$(STAMP): requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

# Wheels of the runtime lock, for tests/system/test_wheel_installs_and_runs.py (needs PyPI).
WHEELHOUSE := data/wheelhouse
.PHONY: wheelhouse
wheelhouse: $(WHEELHOUSE)/.complete

$(WHEELHOUSE)/.complete: requirements.lock $(STAMP)
	$(PY) -m pip download --quiet --require-hashes --only-binary=:all: \
		-r requirements.lock -d $(WHEELHOUSE)
	touch $@

run: $(STAMP)
	$(PY) manage.py run

# The suite runs twice: on PostgreSQL + Redis (the server mode) and on SQLite + the file-system
# broker (the embedded mode, what `make run` starts by default). Tests marked `server` or
# `embedded` run in their own mode only (tests/conftest.py).
SERVER_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR)
EMBEDDED_ENV := env -u DATABASE_URL -u DATABASE_URL_FILE -u REDIS_URL -u REDIS_URL_FILE \
	DATAGUARDIAN_DATA_DIR=$(TEST_EMBEDDED_DATA_DIR)

test: checks test-server test-embedded

checks: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(SERVER_ENV) $(PY) manage.py check --fail-level WARNING
	$(SERVER_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(EMBEDDED_ENV) $(PY) manage.py makemigrations --check --dry-run

test-server: $(STAMP)
	@echo "== tests, server mode: PostgreSQL + Redis =="
	$(SERVER_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# Tests that touch neither the metadata database nor the broker would run the same twice; the
# server pass runs them: storage adapters on their own, the pipeline, the Docker files, and the
# installed wheel (which starts its own embedded DataGuardian in a fresh venv whatever the mode).
MODE_FREE_TESTS := tests/storage/test_local_adapter.py tests/storage/test_s3_adapters.py \
	tests/storage/test_ssh_adapter.py tests/pipeline tests/docker \
	tests/system/test_wheel_installs_and_runs.py

test-embedded: $(STAMP)
	@echo "== tests, embedded mode: SQLite + file-system broker =="
	$(EMBEDDED_ENV) $(VENV)/bin/pytest $(addprefix --ignore=,$(MODE_FREE_TESTS)) $(PYTEST_ARGS)

# The browser tests alone (part of test-server too): Debian's Chromium against a `manage.py run
# all` of their own; docs-images also refreshes the user guide's screenshots in docs/images/.
.PHONY: test-browser docs-images
test-browser: $(STAMP)
	$(SERVER_ENV) $(VENV)/bin/pytest tests/browser $(PYTEST_ARGS)

docs-images: $(STAMP)
	DATAGUARDIAN_UPDATE_DOCS_IMAGES=1 $(SERVER_ENV) $(VENV)/bin/pytest tests/browser $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
