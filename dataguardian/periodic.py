"""The system's periodic tasks, kept in django-celery-beat's tables (DatabaseScheduler)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    queue: str
    every_minutes: int | None = None
    cron: tuple[str, str] | None = None  # (minute, hour), every day


SYSTEM_TASKS = [
    Periodic(
        "dataguardian: enqueue due backups",
        "executions.tasks.enqueue_due_jobs",
        "scheduler",
        every_minutes=1,
    ),
    Periodic(
        "dataguardian: reap stale executions", "executions.tasks.reap", "scheduler", every_minutes=1
    ),
    Periodic(
        "dataguardian: health checks",
        "datasources.tasks.run_health_checks",
        "health",
        every_minutes=5,
    ),
    Periodic(
        "dataguardian: storage checks",
        "storage.tasks.check_storage_locations",
        "health",
        every_minutes=5,
    ),
    Periodic(
        "dataguardian: cleanup (retention)",
        "executions.tasks.run_cleanup",
        "cleanup",
        cron=("0", "4"),
    ),
]


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
