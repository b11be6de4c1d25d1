"""Creating executions and sending them to the workers. Jobs' API and admin actions call these,
and so do the scheduler tick and the reaper."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from core.queues import PRIORITY_MANUAL, PRIORITY_SCHEDULED
from executions.models import BackupExecution
from jobs.models import BackupJob


def build_backup_execution(
    job: BackupJob,
    trigger: str = BackupExecution.Trigger.MANUAL,
    *,
    scheduled_for: datetime | None = None,
    **fields: object,
) -> BackupExecution:
    """An unsaved ``queued`` backup execution of ``job`` (for ``bulk_create``)."""
    return BackupExecution(
        job=job,
        datasource_id=job.datasource_id,
        storage_location_id=job.storage_location_id,
        kind=BackupExecution.Kind.BACKUP,
        trigger=trigger,
        scheduled_for=scheduled_for,
        **fields,
    )


def create_backup_execution(
    job: BackupJob,
    trigger: str = BackupExecution.Trigger.MANUAL,
    *,
    scheduled_for: datetime | None = None,
) -> BackupExecution:
    """A saved ``queued`` backup execution of ``job``, with the job's datasource and storage."""
    execution = build_backup_execution(job, trigger, scheduled_for=scheduled_for)
    execution.save(force_insert=True)
    return execution


def priority_of(execution: BackupExecution) -> int:
    """Manual runs jump the queue: somebody is waiting for them."""
    if execution.trigger == BackupExecution.Trigger.MANUAL:
        return PRIORITY_MANUAL
    return PRIORITY_SCHEDULED


def send_backups(executions: Iterable[BackupExecution], countdown: int | None = None) -> None:
    """Send ``run_backup`` for each execution now (callers decide when "now" is safe)."""
    from executions.tasks import run_backup

    for execution in executions:
        run_backup.apply_async(
            args=[str(execution.id)], priority=priority_of(execution), countdown=countdown
        )


def enqueue_backups(executions: Iterable[BackupExecution], countdown: int | None = None) -> None:
    """Send the executions to the backups queue once the current transaction commits, so a
    worker never receives the id of a row it cannot see yet (one callback for all of them)."""
    pending = list(executions)
    if pending:
        transaction.on_commit(lambda: send_backups(pending, countdown))


def enqueue_backup(execution: BackupExecution) -> None:
    """Send one execution to the backups queue once the current transaction commits."""
    enqueue_backups([execution])


def _send_on_commit(task_name: str, execution: BackupExecution, priority: int) -> None:
    """Send ``executions.tasks.<task_name>(execution id)`` once the current transaction
    commits, so the worker can see the row it is given."""
    from executions import tasks

    task = getattr(tasks, task_name)
    execution_id = str(execution.id)
    transaction.on_commit(lambda: task.apply_async(args=[execution_id], priority=priority))


def enqueue_restore(execution: BackupExecution) -> None:
    """Send a restore execution to the backups queue, at manual priority: somebody asked for
    it and is waiting."""
    _send_on_commit("run_restore", execution, PRIORITY_MANUAL)


def enqueue_verification(backup: BackupExecution, priority: int = PRIORITY_SCHEDULED) -> None:
    """Send the verification of a completed backup to the backups queue."""
    _send_on_commit("verify_backup", backup, priority)
