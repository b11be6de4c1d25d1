"""Fixtures for runs against the real local PostgreSQL and MariaDB."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.support.databases import pg_exec


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
        datasource = DatasourceFactory.create(type=kind, connection_config=connection)
        storage = StorageLocationFactory.create(config={"path": str(tmp_path / "storage")})
        (tmp_path / "storage").mkdir(exist_ok=True)
        backup_options = {"compression": "zstd", **options}
        return BackupJobFactory.create(
            datasource=datasource, storage_location=storage, backup_options=backup_options
        )

    return make
