"""Notifications about one execution: every event names the execution and its job."""

from __future__ import annotations

from typing import Any

from executions.models import BackupExecution
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify


def notify_execution(
    notification_type: NotificationType,
    severity: Severity,
    title: str,
    message: str,
    execution: BackupExecution,
    **metadata: Any,
) -> None:
    """Record a notification about ``execution`` (``metadata`` adds to its job's id)."""
    notify(
        notification_type,
        severity,
        title,
        message,
        entity_type=EntityType.BACKUP_EXECUTION,
        entity_id=execution.id,
        metadata={"job_id": str(execution.job_id), **metadata},
    )
