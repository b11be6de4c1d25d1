"""Celery tasks of executions. Thin: they claim work and call plain, testable code."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import system_settings
from core.queues import BACKUPS, CLEANUP, SCHEDULER
from executions import cleanup, scheduler, verification
from executions.backup import RetryableBackupError, perform_backup
from executions.models import BackupExecution, IllegalTransition
from executions.restore import perform_restore
from executions.services import enqueue_backups

logger = logging.getLogger(__name__)

# How long a backup waits before asking again for a slot under system.max_concurrent_backups.
CAP_RETRY_SECONDS = 30
# pg_advisory_xact_lock key that serialises "count running backups, then claim" across workers.
CAP_LOCK_KEY = 0x44474341  # "DGCA"


@shared_task(
    bind=True,
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def run_backup(self: Any, execution_id: str) -> None:
    """Claim a queued backup execution and run it. Transient failures are retried with the
    backups queue's policy; anything else fails the execution once."""
    execution = (
        BackupExecution.objects.select_related("job", "datasource", "storage_location")
        .filter(pk=execution_id)
        .first()
    )
    if execution is None:
        logger.warning("Execution %s does not exist; dropping its message", execution_id)
        return
    try:
        claimed = claim_within_cap(execution, worker=self.request.hostname or "")
    except IllegalTransition:
        logger.info("Execution %s is %s; not running it", execution_id, execution.status)
        return
    if not claimed:
        # A fresh message rather than self.retry(): waiting for a slot is not a failure and
        # must not use up the retries kept for transient errors.
        logger.info("Execution %s waits: the concurrent backup limit is reached", execution_id)
        enqueue_backups([execution], countdown=CAP_RETRY_SECONDS)
        return
    # ``attempt`` counts claims across messages (the reaper's retries start a new message),
    # so it bounds retries together with Celery's own counter.
    retry_allowed = (
        self.request.retries < BACKUPS.max_retries and execution.attempt <= BACKUPS.max_retries
    )
    try:
        perform_backup(execution, retry_allowed=retry_allowed)
    except RetryableBackupError as exc:
        countdown = BACKUPS.countdown(self.request.retries)
        # The retry message is alive; the reaper must not send a second one while it waits.
        queued = BackupExecution.objects.filter(
            pk=execution.pk, status=BackupExecution.Status.QUEUED
        )
        queued.update(heartbeat_at=timezone.now())
        raise self.retry(exc=exc, countdown=countdown) from exc


def claim_within_cap(execution: BackupExecution, worker: str) -> bool:
    """Claim ``execution`` unless ``system.max_concurrent_backups`` backups already run.

    On PostgreSQL an advisory lock held to the end of the transaction makes "count, then claim"
    atomic across workers; SQLite (the embedded mode) has one writer at a time anyway. When
    the limit is reached the execution stays queued, its ``heartbeat_at`` refreshed so the
    reaper knows its message is alive, and False is returned.
    """
    limit = int(system_settings.get("system.max_concurrent_backups"))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CAP_LOCK_KEY])
        running = BackupExecution.objects.filter(
            kind=BackupExecution.Kind.BACKUP, status=BackupExecution.Status.RUNNING
        ).count()
        if running >= limit:
            BackupExecution.objects.filter(
                pk=execution.pk, status=BackupExecution.Status.QUEUED
            ).update(heartbeat_at=timezone.now())
            return False
        execution.claim(worker=worker)
    return True


@shared_task(
    bind=True,
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def run_restore(self: Any, execution_id: str) -> None:
    """Claim a queued restore execution and run it. Never retried automatically: a restore
    that failed part way may already have written to its target, so running it again is a
    person's decision."""
    execution = BackupExecution.objects.select_related(
        "job", "datasource", "storage_location", "source_execution__datasource"
    ).get(pk=execution_id, kind=BackupExecution.Kind.RESTORE)
    try:
        execution.claim(worker=self.request.hostname or "")
    except IllegalTransition:
        logger.info("Restore %s is %s; not running it", execution_id, execution.status)
        return
    perform_restore(execution)


@shared_task(
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def verify_backup(execution_id: str) -> None:
    """Restore a completed backup into a scratch target and check it (see
    ``executions.verification``). The outcome is recorded on the backup, not raised."""
    backup = (
        BackupExecution.objects.select_related("job", "datasource", "storage_location")
        .filter(pk=execution_id, kind=BackupExecution.Kind.BACKUP)
        .first()
    )
    if backup is None:
        logger.warning("Backup %s does not exist; not verifying it", execution_id)
        return
    try:
        verification.verify_backup(backup)
    except verification.VerificationRefused as exc:
        logger.info("Backup %s not verified: %s", execution_id, exc)


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def enqueue_due_jobs() -> None:
    """Queue the executions of due jobs (every minute, from beat)."""
    scheduler.enqueue_due_jobs()


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def reap() -> None:
    """Fail executions whose worker is gone and re-send lost messages (every minute)."""
    scheduler.reap()


@shared_task(**CLEANUP.task_options())
def run_cleanup() -> None:
    """Apply every job's retention policy and prune old failed runs (daily, 04:00)."""
    cleanup.run_cleanup()
