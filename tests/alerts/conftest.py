"""Fixtures of the alert tests: a real PostgreSQL database with rows, a job backing it up, and
a slow relay in front of the local PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from jobs.models import BackupJob
from tests.support.databases import PG_CONNECTION, pg_exec
from tests.support.network import DelayingRelay


@pytest.fixture
def rows_database() -> Iterator[str]:
    """A scratch PostgreSQL database whose ``items`` table holds 20,000 rows, analysed so the
    catalogue's estimate (``rows_approximate``) is the real count."""
    name = f"dgtest_alerts_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    pg_exec(
        "CREATE TABLE items (id serial PRIMARY KEY, label text);"
        "INSERT INTO items (label) SELECT md5(g::text) FROM generate_series(1, 20000) g;"
        "ANALYZE items;",
        name,
    )
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_job(make_job, rows_database) -> BackupJob:
    """A job backing up ``rows_database`` (daily at 03:00, America/Sao_Paulo)."""
    job: BackupJob = make_job("postgres", {**PG_CONNECTION, "database": rows_database})
    return job


@pytest.fixture
def slow_postgres() -> Iterator[DelayingRelay]:
    """The local PostgreSQL behind a relay that waits before it passes a connection on."""
    relay = DelayingRelay(("127.0.0.1", 5432), delay=0.0).start()
    yield relay
    relay.stop()
