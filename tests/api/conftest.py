"""Fixtures of the API tests: an anonymous client and objects holding known secrets.

The authenticated client, ``api``, and its ``user`` and ``token`` are in the root conftest.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rest_framework.test import APIClient

from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.support.api import DS_SECRET, PG


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    path = tmp_path / "storage"
    path.mkdir()
    return path


@pytest.fixture
def location(db, storage_dir):
    return StorageLocationFactory.create(config={"path": str(storage_dir)})


@pytest.fixture
def secret_datasource(db):
    """A datasource whose stored password is ``DS_SECRET`` (nothing listens for it)."""
    return DatasourceFactory.create(
        connection_config={**PG, "database": "app", "password": DS_SECRET}
    )


@pytest.fixture
def job(secret_datasource, location):
    return BackupJobFactory.create(datasource=secret_datasource, storage_location=location)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database with one small table."""
    name = f"dgtest_api_{secrets.token_hex(4)}"
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(dsn.replace("dbname=postgres", f"dbname={name}"), autocommit=True) as c:
        c.execute(
            "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g"
        )
    yield name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
