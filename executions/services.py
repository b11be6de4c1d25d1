"""Creating executions: plain code, free of Celery. The API, the admin, the commands, the
scheduler tick and the reaper create executions here; ``executions.tasks`` sends them."""

from __future__ import annotations

import uuid
from datetime import datetime

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


class DeleteRefused(Exception):
    """A delete that must not happen; nothing was touched."""


def delete_execution(execution: BackupExecution) -> None:
    """Delete a final execution: a backup's stored files first, then the record.

    Storage goes first so a record never outlives nothing while its files linger: when the
    storage delete fails (``StorageError``) the record stays and the delete can be repeated
    (deleting what is already gone is not an error). Raises ``DeleteRefused`` for a queued or
    running execution, which a worker may still be writing.
    """
    if not execution.is_final:
        raise DeleteRefused(f"The execution is {execution.status}; cancel it first.")
    if execution.owns_stored_files and execution.backup_path:
        location = execution.storage_location
        location.adapter(location.config).delete(execution.backup_path)
    execution.delete()


def newest_completed_backup(job_id: uuid.UUID) -> BackupExecution | None:
    """The job's newest completed backup: the one a restore would reach for first."""
    return (
        BackupExecution.objects.filter(
            job_id=job_id,
            kind=BackupExecution.Kind.BACKUP,
            status=BackupExecution.Status.COMPLETED,
        )
        .order_by("-finished_at", "-created_at")
        .first()
    )
