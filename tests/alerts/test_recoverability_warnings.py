"""Recoverability warnings: ``check_recoverability`` raises ``verification_overdue``,
``rpo_target_missed`` and ``rto_target_missed`` once when each starts, however many checks
see it, and clears it when it ends (a passed verification of the newest backup, a completed
backup, a faster measured restore); the next episode raises again. The backups are completed
through the model's own transitions; the clock is moved by passing ``now``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.queues import SCHEDULER
from dataguardian.periodic import SYSTEM_TASKS
from executions.recoverability_alerts import check_recoverability
from executions.tasks import check_recoverability as check_task
from notifications.models import Notification
from tests.support.restore_tests import TICK, completed_backup, finish_verification, job_of, jobs

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _raised(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(type=kind).order_by("created_at"))


def _check_every_tick(start, span: timedelta) -> None:
    now = start
    while now < start + span:
        check_recoverability(now)
        now += TICK


def test_an_overdue_job_is_reported_once_and_cleared_by_a_passed_verification():
    backup = completed_backup(jobs(1)[0])
    assert backup.finished_at is not None
    _check_every_tick(backup.finished_at + 7 * DAY - TICK, 3 * TICK)
    (raised,) = _raised("verification_overdue")
    assert raised.severity == "warning"
    assert raised.entity_type == "backup_job"
    assert raised.entity_id == backup.job_id
    assert raised.metadata["backup_id"] == str(backup.pk)
    assert raised.metadata["window_days"] == 7
    assert "never verified" in raised.message
    assert "7 days" in raised.message
    verified = backup.finished_at + 8 * DAY
    finish_verification(backup, verified)
    check_recoverability(verified + TICK)
    assert job_of(backup).verification_overdue_since is None
    check_recoverability(verified + 8 * DAY)
    assert len(_raised("verification_overdue")) == 2


def test_a_failed_verification_does_not_clear_overdue():
    backup = completed_backup(jobs(1)[0])
    assert backup.finished_at is not None
    late = backup.finished_at + 8 * DAY
    check_recoverability(late)
    finish_verification(backup, late, status="failed")
    check_recoverability(late + TICK)
    assert job_of(backup).verification_overdue_since == late
    assert len(_raised("verification_overdue")) == 1


def test_a_disabled_job_or_one_with_restore_tests_off_is_never_overdue():
    completed_backup(jobs(1, seed=1, enabled=False)[0])
    off = completed_backup(jobs(1, seed=2, restore_test_every_days=0)[0])
    assert off.finished_at is not None
    check_recoverability(off.finished_at + 30 * DAY)
    assert _raised("verification_overdue") == []


def test_a_missed_rpo_target_is_reported_once_and_cleared_by_a_completed_backup():
    job = jobs(1, rpo_target_minutes=60)[0]
    first = completed_backup(job)
    assert first.finished_at is not None
    _check_every_tick(first.finished_at + timedelta(minutes=50), 6 * TICK)
    (raised,) = _raised("rpo_target_missed")
    assert raised.metadata["rpo_target_minutes"] == 60
    assert raised.metadata["last_completed_at"] == first.finished_at.isoformat()
    assert "RPO target of 60 minutes" in raised.message
    second = completed_backup(job)
    assert second.finished_at is not None
    check_recoverability(second.finished_at + TICK)
    assert job_of(first).rpo_missed_since is None
    check_recoverability(second.finished_at + timedelta(minutes=61))
    assert len(_raised("rpo_target_missed")) == 2


def test_a_missed_rto_target_is_reported_once_and_cleared_by_a_faster_restore():
    backup = completed_backup(jobs(1, rto_target_minutes=1)[0])
    assert backup.finished_at is not None
    now = backup.finished_at
    finish_verification(backup, now, seconds=95.5)
    _check_every_tick(now, 3 * TICK)
    (raised,) = _raised("rto_target_missed")
    assert raised.metadata == {
        "job_id": str(backup.job_id),
        "rto_target_minutes": 1,
        "rto_seconds": 95.5,
        "rto_bytes": 4096,
    }
    assert "took 95.5 s" in raised.message
    finish_verification(backup, now + DAY, seconds=20)
    check_recoverability(now + DAY + TICK)
    assert job_of(backup).rto_missed_since is None
    assert len(_raised("rto_target_missed")) == 1


def test_the_check_is_a_periodic_task_on_the_scheduler_queue_every_5_minutes():
    (periodic,) = [p for p in SYSTEM_TASKS if p.task_object is check_task]
    assert periodic.every_minutes == 5
    assert periodic.queue == SCHEDULER.name
