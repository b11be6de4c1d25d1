"""Stale backups (the dead-man switch): ``check_stale_jobs`` raises one ``backup_stale`` for an
enabled job whose last completed backup is older than its threshold (twice its schedule's
interval, or ``stale_after_minutes``); the next completed backup clears it. The backups are
real pg_dump runs; the clock is moved by passing ``now``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from executions import alerts, scheduler
from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import check_stale_backups
from jobs.models import BackupJob
from jobs.schedule import stale_threshold
from notifications.models import Notification
from tests.factories import BackupJobFactory
from tests.support.jobs import claimed_backup, run_backup, run_failing_backup

# The jobs run daily at 03:00 (America/Sao_Paulo): one day between runs, stale after two.
TWO_DAYS = timedelta(days=2)
MINUTE = timedelta(minutes=1)

pytestmark = pytest.mark.django_db


def _point_at_database(job: BackupJob, database: str) -> None:
    datasource = job.datasource
    datasource.connection_config = {**datasource.connection_config, "database": database}
    datasource.save()


def _fail_on_a_missing_database(job: BackupJob) -> None:
    """One real backup that fails for good: the database does not exist."""
    _point_at_database(job, "dgtest_missing_database")
    run_failing_backup(job)


def _last_success(job: BackupJob) -> datetime:
    """Run a real backup of ``job`` that completes; its ``finished_at``."""
    finished = run_backup(job).finished_at
    assert finished is not None
    return finished


def _stale(job: BackupJob) -> list[Notification]:
    return list(Notification.objects.filter(type="backup_stale", entity_id=job.pk))


def test_a_daily_job_s_threshold_is_twice_its_interval(pg_job):
    assert stale_threshold(pg_job, timezone.now()) == TWO_DAYS


def test_a_job_is_not_stale_before_twice_its_interval_has_passed(pg_job):
    finished = _last_success(pg_job)

    assert alerts.check_stale_jobs(now=finished + TWO_DAYS - MINUTE) == []
    assert _stale(pg_job) == []


def test_a_job_whose_last_backup_is_older_than_twice_its_interval_raises_backup_stale(pg_job):
    finished = _last_success(pg_job)
    now = finished + TWO_DAYS + MINUTE

    [found] = alerts.check_stale_jobs(now=now)

    assert found.job.pk == pg_job.pk
    assert found.last_success_at == finished
    [stale] = _stale(pg_job)
    assert stale.severity == "critical"
    assert stale.entity_type == "backup_job"
    assert pg_job.name in stale.message
    assert pg_job.datasource.name in stale.message
    assert "2 days" in stale.message
    assert "twice the interval of its schedule" in stale.message
    assert stale.metadata["last_success_at"] == finished.isoformat()
    assert stale.metadata["threshold_minutes"] == 2 * 24 * 60
    assert stale.metadata["datasource"]["id"] == str(pg_job.datasource.pk)
    assert BackupJob.objects.get(pk=pg_job.pk).stale_since == now


def test_checking_again_raises_no_second_backup_stale(pg_job):
    finished = _last_success(pg_job)
    alerts.check_stale_jobs(now=finished + TWO_DAYS + MINUTE)

    assert alerts.check_stale_jobs(now=finished + TWO_DAYS * 3) == []
    assert len(_stale(pg_job)) == 1


def test_a_job_that_never_succeeded_is_stale_once_it_is_older_than_its_threshold(pg_job):
    _fail_on_a_missing_database(pg_job)

    alerts.check_stale_jobs(now=pg_job.created_at + TWO_DAYS + MINUTE)

    [stale] = _stale(pg_job)
    assert "Last successful backup: never" in stale.message
    assert stale.metadata["last_success_at"] is None


def test_a_new_job_that_never_succeeded_is_not_stale_yet(pg_job):
    assert alerts.check_stale_jobs(now=pg_job.created_at + TWO_DAYS - MINUTE) == []


def test_the_job_s_own_stale_after_minutes_replaces_the_schedule_s_threshold(pg_job):
    pg_job.stale_after_minutes = 30
    pg_job.save()
    finished = _last_success(pg_job)

    assert alerts.check_stale_jobs(now=finished + timedelta(minutes=29)) == []
    alerts.check_stale_jobs(now=finished + timedelta(minutes=31))

    [stale] = _stale(pg_job)
    assert "30 minutes" in stale.message
    assert "stale_after_minutes" in stale.message


def test_a_disabled_job_is_never_stale(pg_job):
    run_backup(pg_job)
    pg_job.enabled = False
    pg_job.save()

    assert alerts.check_stale_jobs(now=timezone.now() + timedelta(days=60)) == []
    assert _stale(pg_job) == []


def test_runs_skipped_as_overlapping_or_never_started_do_not_count_as_backups(pg_job):
    finished = _last_success(pg_job)
    now = finished + TWO_DAYS + MINUTE
    claimed_backup(pg_job)  # still running when the tick comes
    result = scheduler.enqueue_due_jobs(now)  # records the slot as skipped
    create_backup_execution(pg_job)  # queued, and no worker ever takes it

    alerts.check_stale_jobs(now=now)

    assert result.skipped == 1
    assert BackupExecution.objects.filter(job=pg_job, status="cancelled").count() == 1
    assert len(_stale(pg_job)) == 1


def test_a_completed_backup_of_a_stale_job_raises_backup_recovered_and_clears_it(pg_job):
    run_backup(pg_job)
    alerts.check_stale_jobs(now=timezone.now() + TWO_DAYS + MINUTE)

    execution = run_backup(pg_job)

    [recovered] = Notification.objects.filter(type="backup_recovered")
    assert recovered.severity == "info"
    assert recovered.entity_id == execution.id
    assert recovered.metadata["ended"] == "stale"
    assert "stale since" in recovered.message
    assert BackupJob.objects.get(pk=pg_job.pk).stale_since is None


def test_ending_a_failure_streak_and_staleness_at_once_raises_one_backup_recovered(
    pg_job, rows_database
):
    _fail_on_a_missing_database(pg_job)
    alerts.check_stale_jobs(now=timezone.now() + TWO_DAYS + MINUTE)
    _point_at_database(pg_job, rows_database)

    run_backup(pg_job)

    [recovered] = Notification.objects.filter(type="backup_recovered")
    assert recovered.metadata["ended"] == "failures_and_stale"
    assert recovered.metadata["failures"] == 1
    assert "ending 1 failure in a row and its stale spell (stale since" in recovered.message
    job = BackupJob.objects.get(pk=pg_job.pk)
    assert (job.failure_streak, job.stale_since) == (0, None)


def test_a_job_stale_again_after_recovering_raises_backup_stale_again(pg_job):
    run_backup(pg_job)
    alerts.check_stale_jobs(now=timezone.now() + TWO_DAYS + MINUTE)
    finished = _last_success(pg_job)

    alerts.check_stale_jobs(now=finished + TWO_DAYS + MINUTE)

    assert len(_stale(pg_job)) == 2


def test_migrate_created_the_periodic_stale_check_every_five_minutes(db):
    task = PeriodicTask.objects.select_related("interval").get(
        task="executions.tasks.check_stale_backups"
    )
    assert (task.interval.every, task.interval.period) == (5, "minutes")
    assert task.queue == "scheduler"


def test_the_periodic_task_runs_the_stale_check(pg_job):
    BackupJob.objects.filter(pk=pg_job.pk).update(created_at=timezone.now() - TWO_DAYS * 2)

    check_stale_backups.apply().get()

    assert len(_stale(pg_job)) == 1


def test_checking_many_jobs_reads_them_with_their_last_success_in_one_query(
    pg_job, django_assert_num_queries
):
    run_backup(pg_job)
    for _ in range(20):
        BackupJobFactory.create()

    with django_assert_num_queries(1):
        assert alerts.check_stale_jobs() == []
