"""Fixtures of the admin tests."""

from __future__ import annotations

import pytest

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
