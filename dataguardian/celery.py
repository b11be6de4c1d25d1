"""The Celery application. Configuration lives in Django settings under ``CELERY_``."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")

app = Celery("dataguardian")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _configure() -> None:
    from core.queues import QUEUES

    app.conf.task_queues = [Queue(name) for name in QUEUES]
    app.conf.task_routes = {
        "executions.tasks.run_backup": {"queue": "backups"},
        "executions.tasks.run_restore": {"queue": "backups"},
        "executions.tasks.verify_backup": {"queue": "backups"},
        "executions.tasks.enqueue_due_jobs": {"queue": "scheduler"},
        "executions.tasks.reap": {"queue": "scheduler"},
        "executions.tasks.run_cleanup": {"queue": "cleanup"},
        "datasources.tasks.run_health_checks": {"queue": "health"},
        "datasources.tasks.check_datasource": {"queue": "health"},
        "storage.tasks.check_storage_locations": {"queue": "health"},
        "notifications.tasks.deliver": {"queue": "notifications"},
        "dataguardian.tasks.beat_tick": {"queue": "scheduler"},
    }


_configure()
app.autodiscover_tasks()
