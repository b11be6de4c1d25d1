"""Celery tasks of executions. Thin: they claim work and call plain, testable code.

Not implemented yet (the scheduling, retention, health checks and cleanup issue builds them):
``enqueue_due_jobs`` and ``reap``. Beat already calls them; until then they log
and return.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from dataguardian.queues import BACKUPS, CLEANUP, SCHEDULER
from executions import cleanup
from executions.backup import RetryableBackupError, perform_backup
from executions.models import BackupExecution, IllegalTransition

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def run_backup(self: Any, execution_id: str) -> None:
    """Claim a queued backup execution and run it. Transient failures are retried with the
    backups queue's policy; anything else fails the execution once."""
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=execution_id
    )
    try:
        execution.claim(worker=self.request.hostname or "")
    except IllegalTransition:
        logger.info("Execution %s is %s; not running it", execution_id, execution.status)
        return
    try:
        perform_backup(execution, retry_allowed=self.request.retries < BACKUPS.max_retries)
    except RetryableBackupError as exc:
        raise self.retry(exc=exc, countdown=BACKUPS.countdown(self.request.retries)) from exc


@shared_task(**SCHEDULER.task_options())
def enqueue_due_jobs() -> None:
    logger.info("enqueue_due_jobs: scheduling is not built yet")


@shared_task(**SCHEDULER.task_options())
def reap() -> None:
    logger.info("reap: the reaper is not built yet")


@shared_task(**CLEANUP.task_options())
def run_cleanup() -> None:
    """Apply every job's retention policy and prune old failed runs (daily, 04:00)."""
    cleanup.run_cleanup()
