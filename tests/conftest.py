"""Fixtures that tests in more than one folder use; a folder's own fixtures are in its conftest.

Plain helpers (functions, classes, constants) are in tests/support.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import BackupExecution

# The helpers in tests/support assert as tests do; pytest rewrites their asserts too (as it did
# when they lived in conftest files), so a failing helper explains itself. This must run before
# anything imports them, hence the late imports below.
pytest.register_assert_rewrite("tests.support")

from tests import factories  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.databases import PG_CONNECTION, pg_exec  # noqa: E402
from tests.support.jobs import run_backup  # noqa: E402


@pytest.fixture
def datasource(db):
    return factories.DatasourceFactory.create()


@pytest.fixture
def storage_location(db, tmp_path):
    return factories.StorageLocationFactory.create(config={"path": str(tmp_path / "backups")})


@pytest.fixture
def backup_job(datasource, storage_location):
    return factories.BackupJobFactory.create(
        datasource=datasource, storage_location=storage_location
    )


@pytest.fixture
def broker() -> Iterator[Broker]:
    """The tests' own broker (the REDIS_URL database or the embedded file-system broker),
    emptied before and after."""
    queues = Broker()
    queues.clear()
    yield queues
    queues.clear()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database with a few tables of not trivially compressible data."""
    name = f"dgtest_e2e_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    pg_exec(
        """
        CREATE TABLE customers (id serial PRIMARY KEY, name text, email text, note text);
        INSERT INTO customers (name, email, note)
          SELECT 'name ' || g, 'user' || g || '@example.com', md5(random()::text) || md5(g::text)
          FROM generate_series(1, 30000) g;
        CREATE TABLE logs_2024 (id serial, line text);
        INSERT INTO logs_2024 (line) SELECT repeat(md5(g::text), 4) FROM generate_series(1, 5000) g;
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer int, total numeric(12,2));
        INSERT INTO orders (customer, total)
          SELECT (random() * 29999 + 1)::int, (random() * 1000)::numeric(12,2)
          FROM generate_series(1, 20000);
        """,
        name,
    )
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def scratch_pg_target() -> Iterator[str]:
    name = f"dgtest_target_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def make_job(db, tmp_path):
    """Build a job backing up ``connection`` of ``kind`` into a local directory."""

    def make(kind: str, connection: dict[str, Any], **options: Any):
        datasource = factories.DatasourceFactory.create(type=kind, connection_config=connection)
        storage = factories.StorageLocationFactory.create(
            config={"path": str(tmp_path / "storage")}
        )
        (tmp_path / "storage").mkdir(exist_ok=True)
        backup_options = {"compression": "zstd", **options}
        return factories.BackupJobFactory.create(
            datasource=datasource, storage_location=storage, backup_options=backup_options
        )

    return make


@pytest.fixture
def backup_of(make_job) -> Callable[..., BackupExecution]:
    """Back up ``connection`` of ``kind`` with the given options and return the execution."""

    def make(kind: str, connection: dict[str, Any], **options: Any) -> BackupExecution:
        return run_backup(make_job(kind, connection, **options))

    return make


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("admin", password="correct horse battery")


@pytest.fixture
def token(user) -> str:
    key: str = Token.objects.create(user=user).key
    return key


@pytest.fixture
def api(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- the two modes -------------------------------------------------------------------------
# The suite runs on the settings the environment selects: PostgreSQL + Redis when DATABASE_URL
# and REDIS_URL are set (the server mode), SQLite + the file-system broker when neither is (the
# embedded mode). A test that needs one mode's own feature carries its marker and is deselected
# in the other; `make test` runs both passes.


def _mode() -> str:
    return "embedded" if settings.EMBEDDED else "server"


def pytest_report_header(config: pytest.Config) -> str:
    database = settings.DATABASES["default"]
    return (
        f"DataGuardian {_mode()} mode: {database['ENGINE'].rsplit('.', 1)[-1]} metadata "
        f"database, broker {settings.CELERY_BROKER_URL.split('://', 1)[0]}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = "server" if settings.EMBEDDED else "embedded"
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


@pytest.fixture
def shop() -> Iterator[str]:
    """A small PostgreSQL database, analysed so the backup's row estimate is exact."""
    name = f"dgtest_verify_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    pg_exec(
        """
        CREATE TABLE customers (id serial PRIMARY KEY, name text);
        INSERT INTO customers (name) SELECT 'name ' || g FROM generate_series(1, 2000) g;
        CREATE TABLE orders (id serial PRIMARY KEY, customer int, total numeric(10, 2));
        INSERT INTO orders (customer, total) SELECT g % 2000 + 1, g FROM generate_series(1, 500) g;
        ANALYZE;
        """,
        name,
    )
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def shop_connection(shop: str) -> dict[str, Any]:
    return {**PG_CONNECTION, "database": shop}
