# DataGuardian. `make run` starts everything (embedded mode unless DATABASE_URL/REDIS_URL are
# set); `make test` runs the checks and the tests against the local PostgreSQL and Redis.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dataguardian
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_DATA_DIR ?= $(CURDIR)/data/test

.PHONY: run test lint format install clean

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

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) \
		$(PY) manage.py check --fail-level WARNING
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) \
		$(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	DATAGUARDIAN_DATA_DIR=$(TEST_DATA_DIR) $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
