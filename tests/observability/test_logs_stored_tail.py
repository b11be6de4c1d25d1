"""A run's own log lines are stored on its execution, bounded, secrets masked: after it
completes, after it fails, while it runs, and after the reaper ends it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from core.logging import TAIL_BYTES, TAIL_LINES
from executions.models import BackupExecution
from executions.pipeline.stream import Progress
from executions.progress import record_backup_progress
from executions.runlog import recording
from executions.scheduler import reap
from tests import factories
from tests.support.jobs import claimed_backup, run_backup, run_failing_backup

pytestmark = pytest.mark.django_db

SECRET = "Tail-Secret-4e1b9"
log = logging.getLogger("executions.backup")


def test_a_completed_backup_stores_its_own_lines(make_job, source):
    execution = run_backup(make_job("files", {"source_path": str(source)}))

    lines = execution.log_tail.splitlines()
    assert lines[0].endswith("started: compression zstd, attempt 1")
    assert f"Backup {execution.pk} completed" in lines[-1]
    assert all(" INFO " in line or " WARNING " in line for line in lines)


def test_a_failed_backup_stores_the_failure_and_no_secret(make_job):
    job = make_job(
        "postgres",
        {
            "host": "127.0.0.1",
            "port": 1,
            "database": "shop",
            "username": "postgres",
            "password": SECRET,
        },
    )
    execution = run_failing_backup(job)

    assert f"Backup {execution.pk} failed" in execution.log_tail
    assert str(execution.error_message) in execution.log_tail  # pg_dump's own words, as logged
    assert SECRET not in execution.log_tail


def test_secrets_logged_inside_a_run_are_masked_in_its_tail(make_job, source):
    job = make_job("files", {"source_path": str(source)})
    execution = claimed_backup(job)
    execution.datasource.connection_config = {"source_path": str(source), "password": SECRET}
    with recording(execution):
        log.warning("connecting to redis://dg:%s@cache:6379/0", SECRET)
        log.info("the tool said: token=%s", "abcdef123")

    stored = BackupExecution.objects.get(pk=execution.pk).log_tail
    assert SECRET not in stored
    assert "abcdef123" not in stored
    assert stored.count("********") == 2


def test_the_tail_keeps_the_newest_lines_within_its_bound(make_job, source):
    execution = claimed_backup(make_job("files", {"source_path": str(source)}))
    with recording(execution):
        for number in range(3 * TAIL_LINES):
            log.info("line %05d %s", number, "x" * 100)
        log.debug("a debug line is not kept")

    stored = BackupExecution.objects.get(pk=execution.pk).log_tail
    lines = stored.splitlines()
    assert len(lines) == TAIL_LINES
    assert lines[-1].split(": ", 1)[1].startswith(f"line {3 * TAIL_LINES - 1:05d}")
    assert "debug" not in stored


def test_the_tail_stays_within_its_bytes_however_long_the_lines(make_job, source):
    execution = claimed_backup(make_job("files", {"source_path": str(source)}))
    with recording(execution):
        for number in range(20):
            log.info("big %d %s", number, "é" * 10_000)
        log.info("last line")

    stored = BackupExecution.objects.get(pk=execution.pk).log_tail
    assert len(stored.encode()) <= TAIL_BYTES
    assert stored.endswith("last line")


def test_lines_about_another_run_stay_out(make_job, source):
    job = make_job("files", {"source_path": str(source)})
    first, second = claimed_backup(job), factories.BackupExecutionFactory.create(job=job)
    with recording(first):
        log.info("about the first", extra={"execution": str(second.pk)})
        log.info("mine")

    assert "about the first" not in BackupExecution.objects.get(pk=first.pk).log_tail
    assert "mine" in BackupExecution.objects.get(pk=first.pk).log_tail


def test_a_running_backup_shows_its_lines_with_its_progress(make_job, source):
    execution = claimed_backup(make_job("files", {"source_path": str(source)}))
    with recording(execution):
        log.info("dumping the first table")
        record_backup_progress(execution.pk, Progress("running", 10, 5, 1.0, 1))
        running = BackupExecution.objects.get(pk=execution.pk)
        assert running.status == BackupExecution.Status.RUNNING
        assert running.log_tail.endswith("dumping the first table")


def test_a_retry_keeps_the_lines_of_the_attempts_before_it(make_job, source):
    execution = claimed_backup(make_job("files", {"source_path": str(source)}))
    with recording(execution):
        log.warning("attempt one went wrong")
    with recording(execution):
        log.info("attempt two")

    lines = BackupExecution.objects.get(pk=execution.pk).log_tail.splitlines()
    assert lines[0].endswith("attempt one went wrong")
    assert lines[1].endswith("attempt two")


def test_the_reaper_adds_its_line_to_the_tail_of_a_run_it_ends(make_job, source):
    execution = claimed_backup(make_job("files", {"source_path": str(source)}))
    with recording(execution):
        log.info("still dumping")
    BackupExecution.objects.filter(pk=execution.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    reap()

    lost = BackupExecution.objects.get(pk=execution.pk)
    assert lost.status == BackupExecution.Status.FAILED
    lines = lost.log_tail.splitlines()
    assert lines[0].endswith("still dumping")
    assert "worker lost" in lines[-1]
