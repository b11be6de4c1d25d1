"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

# The helpers in tests/support assert as tests do; pytest rewrites their asserts too (as it did
# when they lived in conftest files), so a failing helper explains itself. This must run before
# anything imports them, hence the late imports below.
pytest.register_assert_rewrite("tests.support")

from tests import factories  # noqa: E402


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


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """The tests' own Redis database (REDIS_URL), emptied before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
