"""The system's periodic tasks, kept in django-celery-beat's tables (DatabaseScheduler)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core.queues import queue_of
from datasources.tasks import check_datasource, run_health_checks
from executions.tasks import (
    check_recoverability,
    check_stale_backups,
    enqueue_due_jobs,
    reap,
    run_cleanup,
    run_restore_tests,
)
from notifications.tasks import dispatch_lost
from storage.tasks import check_storage_locations


@dataclass(frozen=True)
class Periodic:
    name: str
    task_object: Any  # a Celery task: its name and its queue are read from it
    every_minutes: int | None = None
    cron: tuple[str, str] | None = None  # (minute, hour), every day

    @property
    def task(self) -> str:
        return str(self.task_object.name)

    @property
    def queue(self) -> str:
        return queue_of(self.task_object) or settings.CELERY_TASK_DEFAULT_QUEUE


SYSTEM_TASKS = [
    Periodic("dataguardian: enqueue due backups", enqueue_due_jobs, every_minutes=1),
    Periodic("dataguardian: reap stale executions", reap, every_minutes=1),
    Periodic("dataguardian: health checks", run_health_checks, every_minutes=5),
    Periodic("dataguardian: storage checks", check_storage_locations, every_minutes=5),
    Periodic("dataguardian: stale backups", check_stale_backups, every_minutes=5),
    Periodic("dataguardian: restore tests", run_restore_tests, every_minutes=10),
    Periodic("dataguardian: recoverability warnings", check_recoverability, every_minutes=5),
    Periodic("dataguardian: cleanup (retention)", run_cleanup, cron=("0", "4")),
    Periodic("dataguardian: send lost notifications", dispatch_lost, every_minutes=1),
]


def routine_task_names() -> frozenset[str]:
    """The tasks that run on their own every few minutes: the periodic ones and the check of
    one datasource that the health run sends for each (their start and success are not logged,
    see ``dataguardian.log_filters``)."""
    return frozenset({item.task for item in SYSTEM_TASKS} | {str(check_datasource.name)})


def ensure_periodic_tasks() -> None:
    """Create the system's periodic tasks where missing. Idempotent; an operator's later edits
    (a disabled task, another hour) are kept."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    for item in SYSTEM_TASKS:
        defaults: dict[str, object] = {"task": item.task, "queue": item.queue}
        if item.every_minutes is not None:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=item.every_minutes, period=IntervalSchedule.MINUTES
            )
            defaults["interval"] = interval
        else:
            assert item.cron is not None
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=item.cron[0],
                hour=item.cron[1],
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            defaults["crontab"] = crontab
        PeriodicTask.objects.get_or_create(name=item.name, defaults=defaults)
