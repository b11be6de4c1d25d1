"""The reaper fails runs whose worker went silent and re-sends messages Redis lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from executions.models import BackupExecution
from executions.scheduler import LOST_QUEUED_AFTER, STALE_RUNNING_AFTER
from executions.services import create_backup_execution
from executions.tasks import enqueue_backup, reap_and_resend
from notifications.models import Notification
from tests.support.scheduling import message_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(backup_job):
    execution = create_backup_execution(backup_job)
    execution.claim(worker="celery@lost-host")
    return execution


def later(execution: BackupExecution, delay: timedelta):
    assert execution.heartbeat_at is not None
    return execution.heartbeat_at + delay + timedelta(seconds=1)


def test_a_running_execution_without_a_recent_heartbeat_is_failed_as_worker_lost(running):
    reap_and_resend(now=later(running, STALE_RUNNING_AFTER))
    running.refresh_from_db()
    assert running.status == BackupExecution.Status.FAILED
    assert running.error_message.startswith("worker lost: no heartbeat since ")
    assert "celery@lost-host" in running.error_message


def test_a_running_execution_with_a_recent_heartbeat_is_left_running(running):
    result = reap_and_resend(now=later(running, STALE_RUNNING_AFTER - timedelta(seconds=5)))
    running.refresh_from_db()
    assert result.failed == 0
    assert running.status == BackupExecution.Status.RUNNING


def test_a_lost_backup_with_attempts_left_is_queued_again_as_a_new_attempt(
    running, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=later(running, STALE_RUNNING_AFTER))
    retry = BackupExecution.objects.get(metadata__retry_of=str(running.id))
    assert result.retried == 1
    assert (retry.status, retry.attempt) == (BackupExecution.Status.QUEUED, 1)
    assert message_ids(broker, "backups") == [str(retry.id)]


def test_a_lost_backup_on_its_last_attempt_is_not_retried(running):
    BackupExecution.objects.filter(pk=running.pk).update(attempt=4)
    result = reap_and_resend(now=later(running, STALE_RUNNING_AFTER))
    assert result.retried == 0
    assert BackupExecution.objects.count() == 1


def test_reaping_twice_fails_and_retries_once(running):
    now = later(running, STALE_RUNNING_AFTER)
    reap_and_resend(now=now)
    second = reap_and_resend(now=now)
    assert (second.failed, second.retried) == (0, 0)
    assert BackupExecution.objects.count() == 2


def test_a_queued_execution_not_seen_for_five_minutes_is_sent_again_when_its_message_is_lost(
    backup_job, broker, django_capture_on_commit_callbacks
):
    execution = create_backup_execution(backup_job)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_backup(execution)
    assert broker.count("backups") == 1
    broker.clear()  # the message is lost
    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=timezone.now() + LOST_QUEUED_AFTER + timedelta(seconds=1))
    assert result.redispatched == 1
    assert message_ids(broker, "backups") == [str(execution.id)]


def test_a_queued_execution_sent_recently_is_not_sent_again(
    backup_job, broker, django_capture_on_commit_callbacks
):
    create_backup_execution(backup_job)
    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=timezone.now() + LOST_QUEUED_AFTER - timedelta(seconds=10))
    assert result.redispatched == 0
    assert broker.count("backups") == 0


def test_a_redispatched_execution_is_not_sent_again_on_the_next_minute(
    backup_job, django_capture_on_commit_callbacks
):
    create_backup_execution(backup_job)
    now = timezone.now() + LOST_QUEUED_AFTER + timedelta(seconds=1)
    reap_and_resend(now=now)
    assert reap_and_resend(now=now + timedelta(minutes=1)).redispatched == 0


def test_a_lost_backup_on_its_last_attempt_is_told_as_a_failure_that_counts_in_the_streak(
    running,
):
    BackupExecution.objects.filter(pk=running.pk).update(attempt=4)
    reap_and_resend(now=later(running, STALE_RUNNING_AFTER))
    failed = Notification.objects.get(type="backup_failed")
    assert failed.entity_id == running.id
    assert failed.message.startswith("worker lost: no heartbeat since ")
    assert failed.metadata["failure_streak"] == 1
    running.job.refresh_from_db()
    assert running.job.failure_streak == 1


def test_a_lost_backup_that_is_retried_is_not_told_as_a_failure_yet(running):
    reap_and_resend(now=later(running, STALE_RUNNING_AFTER))
    assert not Notification.objects.filter(type="backup_failed").exists()


def test_a_lost_restore_is_told_as_a_failed_restore(running):
    BackupExecution.objects.filter(pk=running.pk).update(kind=BackupExecution.Kind.RESTORE)
    reap_and_resend(now=later(running, STALE_RUNNING_AFTER))
    assert Notification.objects.get(type="restore_failed").entity_id == running.id
