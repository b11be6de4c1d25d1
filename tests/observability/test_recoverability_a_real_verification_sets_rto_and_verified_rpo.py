"""A real backup of a real PostgreSQL database, verified for real, gives the job its RTO and
its verified RPO."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest

from executions import recoverability
from executions.verification import verify_backup
from tests.support.databases import PG_CONNECTION, pg_exec

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_database() -> Iterator[str]:
    name = f"dgtest_rpo_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    pg_exec(
        "CREATE TABLE t (id serial PRIMARY KEY, v text);"
        "INSERT INTO t (v) SELECT 'row ' || g FROM generate_series(1, 500) g; ANALYZE;",
        name,
    )
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_passed_verification_gives_the_job_its_rto_and_verified_rpo(backup_of, small_database):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": small_database})
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    job = backup.job
    job.refresh_from_db()
    now = backup.finished_at + timedelta(hours=1)
    shown = recoverability.of(job, now, 7).as_dict()
    assert shown["rto_seconds"] == result["restore_seconds"] > 0
    assert shown["rto_bytes"] == backup.size_bytes
    assert shown["verified_rpo_seconds"] == shown["rpo_seconds"] == 3600
    assert shown["last_verification_status"] == "passed"
    assert shown["verification_overdue"] is False
