"""Storage usage: completed backups' size against the location's room, a warning from 85 %,
critical from 95 %, "unknown" when the free space is unknown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from executions.dashboard import storage_usage
from tests import factories

GIB = 1024**3


def _location_with(used_gib: int, **fields):
    location = factories.StorageLocationFactory.create(**fields)
    job = factories.BackupJobFactory.create(storage_location=location)
    factories.BackupExecutionFactory.create(
        job=job, status="completed", compressed_size_bytes=used_gib * GIB
    )
    # Failed runs and restores store nothing of their own.
    factories.BackupExecutionFactory.create(job=job, status="failed", compressed_size_bytes=GIB)
    factories.BackupExecutionFactory.create(
        job=job, status="completed", kind="restore", compressed_size_bytes=GIB
    )
    return location


def _usage(location):
    (usage,) = [u for u in storage_usage() if u.location.pk == location.pk]
    return usage


@pytest.mark.parametrize(
    ("used", "level"), [(84, "healthy"), (85, "warning"), (94, "warning"), (95, "critical")]
)
def test_the_level_follows_the_share_of_the_quota_used(db, used, level):
    location = _location_with(used, config={"path": "/var/backups", "max_size_gb": 100})
    usage = _usage(location)
    assert usage.used_bytes == used * GIB
    assert usage.percent == pytest.approx(used)
    assert usage.level == level


def test_without_a_quota_the_capacity_is_what_is_stored_plus_the_free_space(db):
    location = _location_with(85, available_space_gb=Decimal("15"))
    usage = _usage(location)
    assert usage.capacity_bytes == 100 * GIB
    assert usage.level == "warning"


def test_a_location_whose_free_space_is_unknown_is_unknown(db):
    location = _location_with(5, type="s3", config={"bucket": "b", "region": "eu-west-1"})
    usage = _usage(location)
    assert usage.percent is None
    assert usage.level == "unknown"


def test_the_dashboard_shows_each_location_and_its_level(admin_client):
    location = _location_with(96, config={"path": "/var/backups", "max_size_gb": 100})
    page = admin_client.get("/admin/").content.decode()
    assert f'data-location="{location.pk}" data-level="critical"' in page
    assert "96 %" in page


def test_the_used_size_links_to_the_completed_backups_stored_there(admin_client):
    here = _location_with(1, config={"path": "/srv/a", "max_size_gb": 10})
    elsewhere = _location_with(1, config={"path": "/srv/b", "max_size_gb": 10})
    response = admin_client.get(_usage(here).url)
    page = response.content.decode()
    assert response.status_code == 200
    assert str(here.backup_executions.get(status="completed", kind="backup").pk) in page
    assert str(elsewhere.backup_executions.get(status="completed", kind="backup").pk) not in page
    assert str(here.backup_executions.get(status="failed").pk) not in page
