"""Backup jobs run in-process: a run of ``perform_backup`` and where its files went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from executions.backup import perform_backup
from executions.models import BackupExecution
from executions.services import create_backup_execution


def run_backup(job: Any) -> BackupExecution:
    execution = create_backup_execution(job)
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=execution.pk
    )
    execution.claim(worker="test")
    assert perform_backup(execution), execution.error_message
    execution.refresh_from_db()
    return execution


def artifact_dir(execution: BackupExecution) -> Path:
    return Path(str(execution.storage_location.config["path"])) / str(execution.backup_path)
