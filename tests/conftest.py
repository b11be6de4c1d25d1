"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def datasource(db):
    return factories.DatasourceFactory()


@pytest.fixture
def storage_location(db, tmp_path):
    return factories.StorageLocationFactory(config={"path": str(tmp_path / "backups")})


@pytest.fixture
def backup_job(datasource, storage_location):
    return factories.BackupJobFactory(datasource=datasource, storage_location=storage_location)
