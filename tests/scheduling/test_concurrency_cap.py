"""system.max_concurrent_backups caps running backups; the rest wait queued."""

from __future__ import annotations

import pytest

from core.models import SystemSetting
from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import claim_within_cap, run_backup
from tests.support.scheduling import message_ids, queued_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def cap_of_one(db):
    SystemSetting.objects.update_or_create(
        key="system.max_concurrent_backups", defaults={"value": 1}
    )


def test_a_backup_is_claimed_while_below_the_limit(cap_of_one, backup_job):
    execution = create_backup_execution(backup_job)
    assert claim_within_cap(execution, worker="w1") is True
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.RUNNING


def test_at_the_limit_the_next_backup_stays_queued(cap_of_one, backup_job):
    first, second = create_backup_execution(backup_job), create_backup_execution(backup_job)
    assert claim_within_cap(first, worker="w1") is True
    assert claim_within_cap(second, worker="w2") is False
    second.refresh_from_db()
    assert (second.status, second.attempt) == (BackupExecution.Status.QUEUED, 0)


def test_a_waiting_backup_is_sent_again_later_without_using_a_retry(
    cap_of_one, backup_job, broker, django_capture_on_commit_callbacks
):
    first, second = create_backup_execution(backup_job), create_backup_execution(backup_job)
    first.claim(worker="w1")
    with django_capture_on_commit_callbacks(execute=True):
        result = run_backup.apply(args=[str(second.id)])
    second.refresh_from_db()
    assert result.state == "SUCCESS"
    assert second.status == BackupExecution.Status.QUEUED
    [message] = queued_messages(broker, "backups")
    assert message["headers"]["retries"] == 0
    assert message["headers"]["eta"] is not None
    assert message_ids(broker, "backups") == [str(second.id)]
