"""Celery tasks of executions. Thin: they claim work and call plain, testable code.

Not implemented yet (each names the open issue that implements it): ``run_backup`` (the backup
pipeline issue), ``enqueue_due_jobs``, ``reap`` and ``run_cleanup`` (the scheduling, retention,
health checks and cleanup issue). Beat already calls them; until then they log and return.
"""

from __future__ import annotations

import logging

from celery import shared_task

from dataguardian.queues import BACKUPS, CLEANUP, SCHEDULER

logger = logging.getLogger(__name__)


@shared_task(**BACKUPS.task_options())
def run_backup(execution_id: str) -> None:
    logger.warning("run_backup(%s): the backup pipeline is not built yet", execution_id)


@shared_task(**SCHEDULER.task_options())
def enqueue_due_jobs() -> None:
    logger.info("enqueue_due_jobs: scheduling is not built yet")


@shared_task(**SCHEDULER.task_options())
def reap() -> None:
    logger.info("reap: the reaper is not built yet")


@shared_task(**CLEANUP.task_options())
def run_cleanup() -> None:
    logger.info("run_cleanup: retention is not built yet")
