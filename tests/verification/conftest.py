"""Fixtures for verified backups: real backups of real local PostgreSQL / MariaDB databases."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.databases import PG_CONNECTION, mysql_exec, pg_exec


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


@pytest.fixture
def mariadb_shop() -> Iterator[str]:
    name = f"dgtest_verify_my_{secrets.token_hex(4)}"
    mysql_exec(
        f"CREATE DATABASE {name}; USE {name}; "
        "CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64)); "
        "INSERT INTO t (v) SELECT CONCAT('row ', seq) FROM seq_1_to_3000; "
        "CREATE TABLE u (id INT PRIMARY KEY); INSERT INTO u SELECT seq FROM seq_1_to_10; "
        "ANALYZE TABLE t, u;"
    )
    yield name
    mysql_exec(f"DROP DATABASE IF EXISTS {name}")
