"""Fixtures for restores: real backups made with ``perform_backup`` into local storage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from executions.models import BackupExecution
from tests.executions.conftest import (  # noqa: F401 - fixtures used by the tests here
    make_job,
    pg_database,
    scratch_pg_target,
)
from tests.factories import DatasourceFactory
from tests.support.jobs import run_backup


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
