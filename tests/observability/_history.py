"""Backup histories moved through the executions' own state machine, and verifications
recorded the way a verification records its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from executions.models import BackupExecution
from executions.verification.run import _record
from jobs.models import BackupJob


def completed(job: BackupJob, size: int = 1000, seconds: int = 5) -> Any:
    """A completed backup of ``job`` (typed ``Any``: its ``finished_at`` is set)."""
    execution = BackupExecution.objects.create(
        job=job, datasource=job.datasource, storage_location=job.storage_location
    )
    execution.claim(worker="test")
    execution.complete(compressed_size_bytes=size, size_bytes=size * 3)
    execution.refresh_from_db()
    return execution


def failed(job: BackupJob) -> BackupExecution:
    execution = BackupExecution.objects.create(
        job=job, datasource=job.datasource, storage_location=job.storage_location
    )
    execution.claim(worker="test")
    execution.fail("the dump tool exited with 1")
    execution.refresh_from_db()
    return execution


def verified(
    backup: BackupExecution,
    status: str = "passed",
    at: datetime | None = None,
    restore_seconds: float | None = 12.5,
) -> dict[str, Any]:
    """Record a verification of ``backup`` as ``verify_backup`` records its own."""
    verification: dict[str, Any] = {
        "status": status,
        "verified_at": (at or timezone.now()).isoformat(),
        "restore_seconds": restore_seconds,
        "error": None if status == "passed" else "row_count differs",
        "checks": [],
    }
    _record(backup, verification)
    return verification
