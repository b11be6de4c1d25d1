"""``system.max_concurrent_verifications``: the ``verify_backup`` task refuses to start a
verification while the limit is running, sends itself again for later, and runs once a slot
is free; a "running" marker older than the backup time limit holds no slot. Real backups,
real verifications, the task function called directly as a worker calls it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.queues import PRIORITY_LOWEST
from executions import verification
from executions.recoverability_alerts import check_recoverability
from executions.tasks import claim_verification_slot, send_restore_tests
from executions.tasks import verify_backup as verify_task
from notifications.models import Notification
from tests.support.databases import scratch_databases
from tests.support.restore_tests import job_of

pytestmark = pytest.mark.django_db


def _waiting(broker) -> list[str]:
    return [
        args[0]
        for task, args in broker.tasks(f"backups:{PRIORITY_LOWEST}")
        if task == "executions.tasks.verify_backup"
    ]


def _tokens(broker) -> list[str]:
    return [
        args[1]
        for task, args in broker.tasks(f"backups:{PRIORITY_LOWEST}")
        if task == "executions.tasks.verify_backup"
    ]


def _status(backup) -> str:
    backup.refresh_from_db()
    return str(backup.metadata["verification"]["status"])


def test_a_second_verification_waits_while_one_runs_and_runs_after(
    backup_of, shop_connection, broker
):
    first = backup_of("postgres", shop_connection)
    second = backup_of("postgres", shop_connection)
    assert claim_verification_slot(first, worker="w1")
    assert _status(first) == "running"
    verify_task(str(second.pk))
    second.refresh_from_db()
    waiting = second.metadata["verification"]
    assert waiting["status"] == "queued"  # renewed, so the reaper knows it still waits
    assert _waiting(broker) == [str(second.pk)]
    assert _tokens(broker) == [waiting["queued_at"]]
    verify_task(str(first.pk))  # the worker holding the slot finishes
    assert _status(first) == "passed"
    verify_task(str(second.pk))
    assert _status(second) == "passed"
    assert scratch_databases() == []


def test_a_running_marker_older_than_the_time_limit_holds_no_slot(
    backup_of, shop_connection, broker, settings
):
    lost = backup_of("postgres", shop_connection)
    other = backup_of("postgres", shop_connection)
    long_ago = timezone.now() - timedelta(seconds=settings.BACKUP_TIME_LIMIT + 60)
    verification.mark_running(lost, "a worker killed mid-verification", at=long_ago)
    verify_task(str(other.pk))
    assert _status(other) == "passed"
    assert _waiting(broker) == []


def test_a_scheduled_restore_test_verifies_the_newest_backup_and_clears_overdue(
    backup_of, shop_connection, broker, django_capture_on_commit_callbacks
):
    backup = backup_of("postgres", shop_connection)
    later = timezone.now() + timedelta(days=8)
    check_recoverability(later)
    assert job_of(backup).verification_overdue_since == later
    with django_capture_on_commit_callbacks(execute=True):
        assert send_restore_tests(later) == [backup]
    (sent,) = _waiting(broker)
    verify_task(sent)
    job = job_of(backup)
    assert job.last_verification_status == "passed"
    assert job.verified_backup_id == backup.pk
    assert job.last_restore_seconds is not None
    check_recoverability(timezone.now())
    assert job_of(backup).verification_overdue_since is None
    assert Notification.objects.filter(type="verification_overdue").count() == 1
