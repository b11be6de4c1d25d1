"""Fixtures of the admin tests."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from executions.models import BackupExecution
from tests import factories
from tests.support.admin import DATASOURCE_SECRET, STORAGE_SECRET


@pytest.fixture
def postgres_datasource(db):
    return factories.DatasourceFactory(
        name="orders db",
        connection_config={
            "host": "db.internal",
            "port": 5432,
            "database": "orders",
            "username": "backup",
            "password": DATASOURCE_SECRET,
            "ssl_enabled": True,
        },
    )


@pytest.fixture
def s3_location(db):
    return factories.StorageLocationFactory(
        name="offsite",
        type="s3",
        config={
            "bucket": "dg-backups",
            "region": "eu-central-1",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": STORAGE_SECRET,
        },
    )


@pytest.fixture
def execution(db, postgres_datasource, s3_location):
    job = factories.BackupJobFactory(datasource=postgres_datasource, storage_location=s3_location)
    return factories.BackupExecutionFactory(job=job)


@pytest.fixture
def completed_backup(db, postgres_datasource, tmp_path):
    """A completed backup record (no stored files): enough for pages and refusals."""
    storage = factories.StorageLocationFactory(config={"path": str(tmp_path / "storage")})
    job = factories.BackupJobFactory(datasource=postgres_datasource, storage_location=storage)
    now = timezone.now()
    return factories.BackupExecutionFactory(
        job=job,
        status=BackupExecution.Status.COMPLETED,
        started_at=now - timedelta(seconds=5),
        finished_at=now,
        duration_seconds=5,
        size_bytes=4096,
        compressed_size_bytes=1024,
        backup_path="job/run",
    )


@pytest.fixture
def files_backup(backup_of, tmp_path):
    """A real, chunked backup of a small directory tree, stored under tmp_path."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "random.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # incompressible: 3+ chunks
    (tree / "note.txt").write_text("hello")
    return backup_of("files", {"source_path": str(tree)}, max_file_size_mb=1, compression="none")
