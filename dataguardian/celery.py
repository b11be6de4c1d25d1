"""The Celery application. Configuration lives in Django settings under ``CELERY_``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
#: Set by ``manage.py run`` for its children: where a worker or beat reports it is up.
READY_DIR_ENV = "DATAGUARDIAN_READY_DIR"

app = Celery("dataguardian")
app.config_from_object("django.conf:settings", namespace="CELERY")


def route_by_policy(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router: a task goes to the queue its declaration names
    (``QueuePolicy.task_options``). A task sent by name alone is looked up in the app."""
    from core.queues import queue_of

    queue = queue_of(task if task is not None else app.tasks.get(name))
    return {"queue": queue} if queue else None


def _configure() -> None:
    from core.queues import QUEUES

    # Each task names its queue where it is declared (``QueuePolicy.task_options``) and the
    # router reads it from there; the queues themselves are the policies in core.queues.
    app.conf.task_queues = [Queue(name) for name in QUEUES]
    app.conf.task_routes = (route_by_policy,)


@signals.setup_logging.connect
def _log_like_the_rest(**kwargs: Any) -> None:
    """Workers and beat log through ``settings.LOGGING`` (text or JSON, secrets masked, routine
    task chatter dropped), not through Celery's own colored format; ``LOG_LEVEL`` applies."""
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@signals.worker_ready.connect
@signals.beat_init.connect
def _report_ready(**kwargs: Any) -> None:
    """Under ``manage.py run``, tell it this process is up: a file named by its pid."""
    directory = os.environ.get(READY_DIR_ENV)
    if directory:
        Path(directory, str(os.getpid())).touch()


_configure()
app.autodiscover_tasks()
