"""The run_backup task claims a queued execution, runs it, and retries only transient errors."""

from __future__ import annotations

import logging

import pytest

from core.logging import ContextFilter, context_of
from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import run_backup

pytestmark = pytest.mark.django_db


@pytest.fixture
def sqlite_job(make_job, tmp_path):
    import sqlite3

    source = tmp_path / "app.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
    return make_job("sqlite", {"file_path": str(source)})


def test_the_task_runs_a_queued_execution_to_completion(sqlite_job):
    execution = create_backup_execution(sqlite_job)
    run_backup.apply(args=[str(execution.id)])
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.COMPLETED
    assert execution.attempt == 1


def test_the_task_leaves_an_execution_that_is_not_queued_alone(sqlite_job):
    execution = create_backup_execution(sqlite_job)
    execution.cancel()
    run_backup.apply(args=[str(execution.id)])
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.CANCELLED
    assert execution.attempt == 0


def test_a_transient_error_is_retried_three_times_with_backoff_then_fails(make_job, caplog):
    job = make_job(
        "postgres",
        {"host": "127.0.0.1", "port": 1, "database": "x", "username": "postgres", "password": ""},
    )
    execution = create_backup_execution(job)
    # Eager apply runs the retries inline, so one call walks the whole policy.
    run_backup.apply(args=[str(execution.id)])
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.FAILED
    assert execution.attempt == 4
    waits = [m for m in caplog.messages if "Retry in" in m]
    assert ["30s" in waits[0], "60s" in waits[1], "120s" in waits[2]] == [True] * 3
    assert "Connection refused" in str(execution.error_message)


def test_the_last_attempt_fails_the_execution_instead_of_retrying(make_job):
    job = make_job(
        "postgres",
        {"host": "127.0.0.1", "port": 1, "database": "x", "username": "postgres", "password": ""},
    )
    execution = create_backup_execution(job)
    run_backup.apply(args=[str(execution.id)], retries=3)
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.FAILED


def test_a_permanent_error_fails_at_once_without_a_retry(make_job, tmp_path):
    job = make_job("files", {"source_path": str(tmp_path / "nope")})
    execution = create_backup_execution(job)
    result = run_backup.apply(args=[str(execution.id)])
    assert result.state == "SUCCESS"
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.FAILED


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_tasks_log_lines_name_the_execution_its_job_and_its_datasource(make_job, tmp_path):
    job = make_job("files", {"source_path": str(tmp_path / "nope")})
    execution = create_backup_execution(job)
    handler = _Records()
    logging.getLogger("executions").addHandler(handler)
    try:
        run_backup.apply(args=[str(execution.id)])
    finally:
        logging.getLogger("executions").removeHandler(handler)

    failed = [r for r in handler.records if r.getMessage().startswith(f"Backup {execution.id}")]
    assert failed
    assert context_of(failed[0]) == {
        "execution": str(execution.id),
        "job": job.name,
        "datasource": job.datasource.name,
    }
