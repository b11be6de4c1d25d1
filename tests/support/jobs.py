"""Backup jobs run in-process, as a worker runs them (``back_up``), and where their files went."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path
from typing import Any

from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import back_up


def claimed_backup(job: Any) -> BackupExecution:
    """A new backup execution of ``job``, claimed as a worker claims it, ready for ``back_up``."""
    execution = create_backup_execution(job)
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=execution.pk
    )
    execution.claim(worker="test")
    return execution


def run_backup(job: Any) -> BackupExecution:
    execution = claimed_backup(job)
    assert back_up(execution), execution.error_message
    execution.refresh_from_db()
    return execution


def run_failing_backup(job: Any) -> BackupExecution:
    """Run a backup of ``job`` that must fail for good (no retry), and return it."""
    execution = claimed_backup(job)
    assert not back_up(execution)
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.FAILED
    return execution


def artifact_dir(execution: BackupExecution) -> Path:
    return Path(str(execution.storage_location.config["path"])) / str(execution.backup_path)


def rewrite_manifest(backup: BackupExecution, text: str) -> None:
    """Write ``text`` as the backup's manifest.json and record its SHA-256 on the execution, as
    the backup itself would have (a test that stands for a backup made otherwise, not for an
    altered one)."""
    (artifact_dir(backup) / "manifest.json").write_text(text)
    backup.metadata = {**backup.metadata, "manifest_sha256": sha256(text.encode()).hexdigest()}
    BackupExecution.objects.filter(pk=backup.pk).update(metadata=backup.metadata)
