"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def datasource(db):
    return factories.DatasourceFactory.create()


@pytest.fixture
def storage_location(db, tmp_path):
    return factories.StorageLocationFactory.create(config={"path": str(tmp_path / "backups")})


@pytest.fixture
def backup_job(datasource, storage_location):
    return factories.BackupJobFactory.create(
        datasource=datasource, storage_location=storage_location
    )
