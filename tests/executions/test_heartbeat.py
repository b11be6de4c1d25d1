"""The heartbeat keeps a silent run alive for the reaper, and stops once the run has ended."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from executions.heartbeat import beat, heartbeat
from executions.models import BackupExecution
from tests.factories import BackupExecutionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_silent_running_execution_keeps_a_fresh_heartbeat(backup_job):
    execution = BackupExecutionFactory.create(job=backup_job)
    execution.claim(worker="test")
    stale = timezone.now() - timedelta(hours=1)
    BackupExecution.objects.filter(pk=execution.pk).update(heartbeat_at=stale)
    with heartbeat(execution.id, interval=0.05):
        time.sleep(0.3)  # the tool says nothing; only the heartbeat thread writes
    execution.refresh_from_db()
    assert execution.heartbeat_at is not None
    assert execution.heartbeat_at > stale + timedelta(minutes=59)


def test_a_beat_does_not_revive_an_execution_that_ended(backup_job):
    execution = BackupExecutionFactory.create(job=backup_job)
    execution.claim(worker="test")
    execution.fail("worker lost")
    before = BackupExecution.objects.get(pk=execution.pk).heartbeat_at
    assert beat(execution.id) is False
    after = BackupExecution.objects.get(pk=execution.pk)
    assert after.status == BackupExecution.Status.FAILED
    assert after.heartbeat_at == before
