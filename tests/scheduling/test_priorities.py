"""Manual runs go to the front of the backups queue; scheduled runs wait behind them."""

from __future__ import annotations

import pytest

from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import enqueue_backup
from tests.support.scheduling import queued_messages

pytestmark = pytest.mark.django_db


def test_a_manual_run_is_sent_with_priority_zero(
    backup_job, broker, django_capture_on_commit_callbacks
):
    execution = create_backup_execution(backup_job, BackupExecution.Trigger.MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_backup(execution)
    [message] = queued_messages(broker, "backups")
    assert message["properties"]["priority"] == 0


def test_a_scheduled_run_is_sent_with_priority_five(
    backup_job, broker, django_capture_on_commit_callbacks
):
    execution = create_backup_execution(backup_job, BackupExecution.Trigger.SCHEDULED)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_backup(execution)
    [message] = queued_messages(broker, "backups:5")
    assert message["properties"]["priority"] == 5
    assert broker.count("backups") == 0
