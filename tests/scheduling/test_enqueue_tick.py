"""The minute tick queues one execution per due job and moves the job to its next slot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.models import BackupExecution
from executions.scheduler import SKIPPED_OVERLAP, enqueue_due_jobs
from executions.services import create_backup_execution
from executions.tasks import tick
from tests.factories import BackupExecutionFactory
from tests.support.scheduling import NOW, make_due_job, message_ids

pytestmark = pytest.mark.django_db

SLOT = NOW.replace(minute=0, second=0)


def test_a_due_job_gets_a_queued_scheduled_execution_for_its_slot():
    job = make_due_job(SLOT)
    enqueue_due_jobs(now=NOW)
    execution = BackupExecution.objects.get(job=job)
    assert (execution.status, execution.trigger, execution.scheduled_for) == (
        BackupExecution.Status.QUEUED,
        BackupExecution.Trigger.SCHEDULED,
        SLOT,
    )


def test_a_due_job_moves_to_its_first_slot_after_now():
    job = make_due_job(SLOT)
    enqueue_due_jobs(now=NOW)
    job.refresh_from_db()
    assert job.next_execution_at == SLOT + timedelta(hours=1)


def test_a_job_not_yet_due_is_left_alone():
    job = make_due_job(NOW + timedelta(minutes=1))
    result = enqueue_due_jobs(now=NOW)
    assert result.due == 0
    assert not BackupExecution.objects.filter(job=job).exists()


def test_a_disabled_job_is_never_queued():
    job = make_due_job(SLOT)
    type(job).objects.filter(pk=job.pk).update(enabled=False)
    enqueue_due_jobs(now=NOW)
    assert not BackupExecution.objects.filter(job=job).exists()


def test_slots_missed_during_downtime_collapse_into_one_execution():
    job = make_due_job(SLOT - timedelta(days=3))
    enqueue_due_jobs(now=NOW)
    enqueue_due_jobs(now=NOW + timedelta(seconds=30))
    assert BackupExecution.objects.filter(job=job).count() == 1
    job.refresh_from_db()
    assert job.next_execution_at == SLOT + timedelta(hours=1)


def test_a_job_whose_previous_run_is_still_running_is_not_queued_again():
    job = make_due_job(SLOT)
    running = create_backup_execution(job)
    running.claim(worker="w1")
    result = enqueue_due_jobs(now=NOW)
    assert result.queued == 0
    assert not BackupExecution.objects.filter(job=job, status="queued").exists()


def test_a_skipped_slot_is_recorded_as_a_cancelled_execution_saying_why():
    job = make_due_job(SLOT)
    running = create_backup_execution(job)
    running.claim(worker="w1")
    result = enqueue_due_jobs(now=NOW)
    skipped = BackupExecution.objects.get(job=job, scheduled_for=SLOT)
    assert result.skipped == 1
    assert (skipped.status, skipped.error_message) == ("cancelled", SKIPPED_OVERLAP)
    assert skipped.metadata["blocked_by"] == str(running.id)


def test_a_skipped_job_still_moves_to_its_next_slot():
    job = make_due_job(SLOT)
    create_backup_execution(job)  # still queued
    enqueue_due_jobs(now=NOW)
    job.refresh_from_db()
    assert job.next_execution_at == SLOT + timedelta(hours=1)


def test_a_slot_that_already_has_an_execution_is_not_queued_twice():
    job = make_due_job(SLOT)
    BackupExecutionFactory.create(
        job=job, scheduled_for=SLOT, status="completed", trigger="scheduled"
    )
    result = enqueue_due_jobs(now=NOW)
    assert result.already_run == 1
    assert BackupExecution.objects.filter(job=job).count() == 1


def test_the_tick_uses_the_same_number_of_queries_for_one_or_many_due_jobs():
    make_due_job(SLOT)
    with CaptureQueriesContext(connection) as one:
        enqueue_due_jobs(now=NOW)
    for index in range(15):
        job = make_due_job(SLOT + timedelta(hours=1))
        if index % 3 == 0:
            create_backup_execution(job)  # some are skipped, which must not cost more either
    with CaptureQueriesContext(connection) as many:
        result = enqueue_due_jobs(now=NOW + timedelta(hours=1))
    assert result.due == 16
    assert len(many) == len(one)


def test_the_messages_are_sent_only_when_the_tick_commits(
    django_capture_on_commit_callbacks, broker
):
    job = make_due_job(SLOT)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tick(now=NOW)
    assert broker.count("backups:5") == 0
    for callback in callbacks:
        callback()
    execution = BackupExecution.objects.get(job=job)
    assert message_ids(broker, "backups:5") == [str(execution.id)]


def test_a_running_restore_does_not_hold_back_the_jobs_backup():
    job = make_due_job(SLOT)
    BackupExecutionFactory.create(job=job, kind="restore", status="running")
    result = enqueue_due_jobs(now=NOW)
    assert result.queued == 1
