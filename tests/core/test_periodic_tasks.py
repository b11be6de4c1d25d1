"""The system's periodic tasks exist after migrate, once each, and keep operator edits."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from dataguardian.periodic import SYSTEM_TASKS, ensure_periodic_tasks

pytestmark = pytest.mark.django_db


def test_migrate_created_the_tick_the_health_checks_and_the_daily_cleanup():
    tasks = {t.task: t for t in PeriodicTask.objects.select_related("interval", "crontab")}
    tick = tasks["executions.tasks.enqueue_due_jobs"]
    assert (tick.interval.every, tick.interval.period) == (1, "minutes")
    health = tasks["datasources.tasks.run_health_checks"]
    assert (health.interval.every, health.interval.period) == (5, "minutes")
    cleanup = tasks["executions.tasks.run_cleanup"]
    assert (cleanup.crontab.minute, cleanup.crontab.hour) == ("0", "4")


def test_running_it_again_creates_nothing_and_keeps_a_disabled_task_disabled():
    PeriodicTask.objects.filter(task="executions.tasks.run_cleanup").update(enabled=False)
    ensure_periodic_tasks()
    ensure_periodic_tasks()
    assert PeriodicTask.objects.filter(name__startswith="dataguardian:").count() == len(
        SYSTEM_TASKS
    )
    assert not PeriodicTask.objects.get(task="executions.tasks.run_cleanup").enabled
