"""Notifications about one execution. Each names the job, the datasource, the storage
location, when it ran, how long it took, what it stored, the (secret-free) error, and links
to the execution in the admin; delivery rules scope by the job and datasource ids and tags
given here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from executions.models import BackupExecution
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify

ERROR_EXCERPT = 1000


def execution_url(execution: BackupExecution) -> str:
    path = reverse("admin:executions_backupexecution_change", args=[execution.pk])
    return f"{settings.PUBLIC_URL}{path}"


def describe(execution: BackupExecution) -> dict[str, Any]:
    """The metadata of a notification about ``execution``."""
    job, datasource, location = execution.job, execution.datasource, execution.storage_location
    duration = execution.duration_seconds
    return {
        "job_id": str(execution.job_id),
        "job": {"id": str(job.id), "name": job.name},
        "datasource": {
            "id": str(datasource.id),
            "name": datasource.name,
            "type": datasource.type,
            "tags": list(datasource.tags or []),
        },
        "storage_location": {"id": str(location.id), "name": location.name},
        "execution": {
            "id": str(execution.id),
            "kind": execution.kind,
            "status": execution.status,
            "trigger": execution.trigger,
            "started_at": execution.started_at.isoformat() if execution.started_at else None,
            "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
            "duration_seconds": duration,
            "duration": f"{duration} s" if duration is not None else None,
            "size_bytes": execution.size_bytes,
            "compressed_size_bytes": execution.compressed_size_bytes,
            "size": filesizeformat(execution.size_bytes) if execution.size_bytes else None,
            "stored": (
                filesizeformat(execution.compressed_size_bytes)
                if execution.compressed_size_bytes
                else None
            ),
            "error": (execution.error_message or "")[:ERROR_EXCERPT] or None,
            "url": execution_url(execution),
        },
    }


def notify_execution(
    notification_type: NotificationType,
    severity: Severity,
    title: str,
    message: str,
    execution: BackupExecution,
    **metadata: Any,
) -> None:
    """Record a notification about ``execution`` (``metadata`` adds to its description)."""
    notify(
        notification_type,
        severity,
        title,
        message,
        entity_type=EntityType.BACKUP_EXECUTION,
        entity_id=execution.id,
        metadata={**describe(execution), **metadata},
    )
