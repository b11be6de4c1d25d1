"""The Celery application. Configuration lives in Django settings under ``CELERY_``."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")

app = Celery("dataguardian")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _configure() -> None:
    from core.queues import QUEUES, route_by_policy

    # Each task names its queue where it is declared (``QueuePolicy.task_options``) and the
    # router reads it from there; the queues themselves are the policies in core.queues.
    app.conf.task_queues = [Queue(name) for name in QUEUES]
    app.conf.task_routes = (route_by_policy,)


_configure()
app.autodiscover_tasks()
