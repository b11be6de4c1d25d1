"""Scheduled restore tests with the clock moved: every job's newest backup is verified within
its window, the passes spread over the window, never more than
``system.max_concurrent_verifications`` at once, and the per-job override. The backups are
completed through the model's own transitions; verifications finish later than the tick."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import SystemSetting
from core.queues import PRIORITY_LOWEST, SCHEDULER
from dataguardian.periodic import SYSTEM_TASKS
from executions import recoverability, restore_tests, verification
from executions.recoverability_alerts import check_recoverability
from executions.tasks import run_restore_tests, send_restore_tests
from notifications.models import Notification
from tests.support.restore_tests import (
    TICK,
    Simulation,
    completed_backup,
    finish_verification,
    job_of,
    jobs,
)

WEEK = timedelta(days=7)

pytestmark = pytest.mark.django_db


def _limit(n: int) -> None:
    SystemSetting.objects.update_or_create(
        key="system.max_concurrent_verifications", defaults={"value": n}
    )


def test_over_a_week_every_job_s_newest_backup_is_verified_before_it_is_overdue():
    _limit(2)
    start = timezone.now()
    backups = [completed_backup(job) for job in jobs(30)]
    for backup in backups:
        finish_verification(backup, start)
    simulation = Simulation()
    now = start
    while now < start + 2 * WEEK:
        simulation.tick(now)
        check_recoverability(now)
        now += TICK
    assert simulation.most_at_once <= 2
    sent = Counter(simulation.sent_jobs())
    assert sorted(sent) == sorted(b.job_id for b in backups)
    # Once a week (the period is the window less an hour, so a third pass may fit).
    assert set(sent.values()) <= {2, 3}
    assert not Notification.objects.filter(type="verification_overdue").exists()
    for backup in backups:
        assert job_of(backup).verified_backup_id == backup.pk


def test_the_restore_tests_spread_over_the_window_rather_than_one_hour():
    _limit(30)
    start = timezone.now()
    for backup in [completed_backup(job) for job in jobs(30)]:
        finish_verification(backup, start)
    simulation = Simulation()
    simulation.run(start, WEEK)
    hours = Counter(at.replace(minute=0, second=0, microsecond=0) for at, _ in simulation.sends)
    days = Counter(at.date() for at, _ in simulation.sends)
    assert len(set(simulation.sent_jobs())) == 30
    assert max(hours.values()) <= 3  # a fair share of 30 over 168 hours is 0.2
    assert len(days) >= 6


def test_jobs_never_verified_catch_up_at_once_but_within_the_limit():
    _limit(1)
    start = timezone.now()
    backups = [completed_backup(job) for job in jobs(6)]
    simulation = Simulation(run_time=timedelta(minutes=15))
    assert len(simulation.tick(start)) == 1
    simulation.run(start + TICK, timedelta(hours=3))
    assert simulation.most_at_once == 1
    assert sorted(simulation.sent_jobs()) == sorted(b.job_id for b in backups)


def test_a_job_with_a_one_day_override_is_tested_every_day_and_one_with_0_never():
    _limit(5)
    start = timezone.now()
    daily = completed_backup(jobs(1, seed=1, restore_test_every_days=1)[0])
    off = completed_backup(jobs(1, seed=2, restore_test_every_days=0)[0])
    weekly = completed_backup(jobs(1, seed=3)[0])
    for backup in (daily, off, weekly):
        finish_verification(backup, start)
    simulation = Simulation()
    simulation.run(start, WEEK)
    sent = Counter(simulation.sent_jobs())
    assert sent[daily.job_id] in (7, 8)  # every 23 hours: the day less a tenth of it
    assert sent[weekly.job_id] in (1, 2)
    assert off.job_id not in sent


def test_a_backup_whose_verification_is_queued_is_not_sent_again():
    _limit(5)
    backup = completed_backup(jobs(1)[0])
    now = timezone.now()
    assert send_restore_tests(now) == [backup]
    backup.refresh_from_db()
    assert backup.metadata["verification"]["status"] == "queued"
    assert send_restore_tests(now + TICK) == []


def test_a_queued_marker_older_than_the_time_limit_no_longer_holds_the_backup(settings):
    _limit(5)
    backup = completed_backup(jobs(1)[0])
    now = timezone.now()
    verification.mark_queued(backup, now - timedelta(seconds=settings.BACKUP_TIME_LIMIT + 60))
    assert send_restore_tests(now) == [backup]


def test_a_new_backup_waits_for_the_job_s_next_slot():
    _limit(5)
    job = jobs(1)[0]
    first = completed_backup(job)
    now = timezone.now()
    finish_verification(first, now)
    completed_backup(job)
    assert restore_tests.due_backups(now + TICK) == []
    window = recoverability.restore_test_window(job_of(first), 7)
    assert window is not None
    slot = restore_tests.latest_slot(job, window, now) + restore_tests.period(window)
    assert [b.job_id for b in restore_tests.due_backups(slot)] == [job.pk]


def test_the_pass_sends_at_the_lowest_priority(broker, django_capture_on_commit_callbacks):
    _limit(5)
    backup = completed_backup(jobs(1)[0])
    with django_capture_on_commit_callbacks(execute=True):
        run_restore_tests()
    waiting = broker.tasks(f"backups:{PRIORITY_LOWEST}")
    backup.refresh_from_db()
    token = backup.metadata["verification"]["queued_at"]
    assert waiting == [("executions.tasks.verify_backup", [str(backup.pk), token])]


def test_the_pass_is_a_periodic_task_on_the_scheduler_queue_every_10_minutes():
    (periodic,) = [p for p in SYSTEM_TASKS if p.task_object is run_restore_tests]
    assert periodic.every_minutes == 10
    assert periodic.queue == SCHEDULER.name
