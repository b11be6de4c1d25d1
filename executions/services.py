"""Creating executions. Jobs' API and admin actions call these; the scheduler tick will too."""

from __future__ import annotations

from django.db import transaction

from dataguardian.queues import PRIORITY_MANUAL, PRIORITY_SCHEDULED
from executions.models import BackupExecution
from jobs.models import BackupJob


def create_backup_execution(
    job: BackupJob, trigger: str = BackupExecution.Trigger.MANUAL
) -> BackupExecution:
    """A ``queued`` backup execution of ``job``, with the job's datasource and storage."""
    return BackupExecution.objects.create(
        job=job,
        datasource_id=job.datasource_id,
        storage_location_id=job.storage_location_id,
        kind=BackupExecution.Kind.BACKUP,
        trigger=trigger,
    )


def enqueue_backup(execution: BackupExecution) -> None:
    """Send the execution to the backups queue once the current transaction commits."""
    from executions.tasks import run_backup

    priority = (
        PRIORITY_MANUAL
        if execution.trigger == BackupExecution.Trigger.MANUAL
        else PRIORITY_SCHEDULED
    )
    transaction.on_commit(
        lambda: run_backup.apply_async(args=[str(execution.id)], priority=priority)
    )
