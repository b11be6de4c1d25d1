"""Fixtures for restores: real backups made with ``perform_backup`` into local storage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from executions.backup import perform_backup
from executions.models import BackupExecution
from executions.services import create_backup_execution
from tests.executions.conftest import (  # noqa: F401 - fixtures used by the tests here
    make_job,
    pg_database,
    scratch_pg_target,
)
from tests.factories import DatasourceFactory


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


@pytest.fixture
def backup_of(make_job) -> Callable[..., BackupExecution]:  # noqa: F811
    """Back up ``connection`` of ``kind`` with the given options and return the execution."""

    def make(kind: str, connection: dict[str, Any], **options: Any) -> BackupExecution:
        return run_backup(make_job(kind, connection, **options))

    return make


@pytest.fixture
def datasource_of(db) -> Callable[..., Any]:
    def make(kind: str, connection: dict[str, Any], name: str = "") -> Any:
        extra = {"name": name} if name else {}
        return DatasourceFactory.create(type=kind, connection_config=connection, **extra)

    return make
