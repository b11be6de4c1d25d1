"""Failure streaks: every backup that fails for good counts, the next completed one ends the
streak with one ``backup_recovered``. Real pg_dump runs against the local PostgreSQL: a
datasource whose database does not exist fails, the same datasource pointed back at a real
database succeeds."""

from __future__ import annotations

import secrets

import pytest

from executions import alerts
from executions.backup import RetryableBackupError
from executions.models import BackupExecution
from executions.tasks import back_up
from jobs.models import BackupJob
from notifications.models import Notification
from tests.support.jobs import claimed_backup, run_backup, run_failing_backup
from tests.support.network import closed_port

MISSING = f"dgtest_missing_{secrets.token_hex(4)}"


def _point_at(job: BackupJob, **connection: object) -> None:
    datasource = job.datasource
    datasource.connection_config = {**datasource.connection_config, **connection}
    datasource.save()


def _streak(job: BackupJob) -> int:
    return BackupJob.objects.get(pk=job.pk).failure_streak


def _failed(job: BackupJob) -> list[Notification]:
    return list(
        Notification.objects.filter(type="backup_failed", metadata__job_id=str(job.pk)).order_by(
            "created_at"
        )
    )


def _recovered(job: BackupJob) -> list[Notification]:
    return list(Notification.objects.filter(type="backup_recovered", metadata__job_id=str(job.pk)))


def test_a_backup_that_fails_for_good_raises_backup_failed_with_a_streak_of_one(pg_job):
    _point_at(pg_job, database=MISSING)

    execution = run_failing_backup(pg_job)

    [failed] = _failed(pg_job)
    assert failed.entity_id == execution.id
    assert failed.metadata["failure_streak"] == 1
    assert "in a row" not in failed.title
    assert _streak(pg_job) == 1


def test_the_next_failure_raises_backup_failed_with_a_streak_of_two_and_says_so(pg_job):
    _point_at(pg_job, database=MISSING)
    run_failing_backup(pg_job)

    run_failing_backup(pg_job)

    first, second = _failed(pg_job)
    assert [first.metadata["failure_streak"], second.metadata["failure_streak"]] == [1, 2]
    assert second.title.endswith("(2nd failure in a row)")
    assert _streak(pg_job) == 2


def test_a_closed_port_counts_like_any_other_failure(pg_job):
    _point_at(pg_job, port=closed_port())

    run_failing_backup(pg_job)
    run_failing_backup(pg_job)
    run_failing_backup(pg_job)

    assert [n.metadata["failure_streak"] for n in _failed(pg_job)] == [1, 2, 3]
    assert _failed(pg_job)[-1].title.endswith("(3rd failure in a row)")


def test_a_successful_backup_after_failures_raises_one_backup_recovered_and_resets_the_streak(
    pg_job, rows_database
):
    _point_at(pg_job, database=MISSING)
    run_failing_backup(pg_job)
    run_failing_backup(pg_job)
    _point_at(pg_job, database=rows_database)

    execution = run_backup(pg_job)

    [recovered] = _recovered(pg_job)
    assert recovered.severity == "info"
    assert recovered.entity_id == execution.id
    assert recovered.metadata["ended"] == "failures"
    assert recovered.metadata["failures"] == 2
    assert "2 failures in a row" in recovered.message
    assert _streak(pg_job) == 0


def test_a_second_success_after_the_recovery_raises_no_further_backup_recovered(
    pg_job, rows_database
):
    _point_at(pg_job, database=MISSING)
    run_failing_backup(pg_job)
    _point_at(pg_job, database=rows_database)
    run_backup(pg_job)

    run_backup(pg_job)

    assert len(_recovered(pg_job)) == 1


def test_a_success_without_failures_before_it_raises_no_backup_recovered(pg_job):
    run_backup(pg_job)

    assert _recovered(pg_job) == []
    assert _streak(pg_job) == 0


def test_the_streak_counts_again_from_one_after_a_recovery(pg_job, rows_database):
    _point_at(pg_job, database=MISSING)
    run_failing_backup(pg_job)
    run_failing_backup(pg_job)
    _point_at(pg_job, database=rows_database)
    run_backup(pg_job)
    _point_at(pg_job, database=MISSING)

    run_failing_backup(pg_job)

    assert [n.metadata["failure_streak"] for n in _failed(pg_job)] == [1, 2, 1]


def test_a_cancelled_run_neither_counts_as_a_failure_nor_ends_the_streak(pg_job, rows_database):
    _point_at(pg_job, database=MISSING)
    run_failing_backup(pg_job)
    _point_at(pg_job, database=rows_database)
    execution = claimed_backup(pg_job)
    BackupExecution.objects.get(pk=execution.pk).cancel()

    assert not back_up(execution)

    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.CANCELLED
    assert _streak(pg_job) == 1
    assert len(_failed(pg_job)) == 1
    assert _recovered(pg_job) == []


def test_a_transient_failure_queued_for_retry_does_not_count(pg_job):
    _point_at(pg_job, port=closed_port())
    execution = claimed_backup(pg_job)

    with pytest.raises(RetryableBackupError):
        back_up(execution, retry_allowed=True)

    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.QUEUED
    assert _streak(pg_job) == 0
    assert _failed(pg_job) == []


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ordinals_read_as_english(n, text):
    assert alerts.ordinal(n) == text
