"""Fixtures for verified backups: real backups of real local MariaDB databases (the PostgreSQL one,
``shop``, is shared and lives in tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support.databases import mysql_exec


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
