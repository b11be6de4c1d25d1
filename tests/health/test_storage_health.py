"""Storage location checks through the adapter contract, run against the local adapter on the
real file system: status, available space and notifications on transitions only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from notifications.models import Notification
from storage.adapters.base import StorageUsage
from storage.health import FULL_BELOW_BYTES, check_location, full_threshold_bytes
from storage.models import StorageLocation
from storage.tasks import check_storage_locations
from tests.factories import StorageLocationFactory

# The smallest quota the local adapter accepts (binary GB), and a file that exceeds it.
TINY_QUOTA_GB = 0.001
OVER_TINY_QUOTA = int(TINY_QUOTA_GB * 1024**3) + 4096


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


def _location(root: Path, **config: object) -> StorageLocation:
    location: StorageLocation = StorageLocationFactory.create(config={"path": str(root), **config})
    return location


def _notifications(location: StorageLocation, type_: str) -> int:
    return Notification.objects.filter(entity_id=location.pk, type=type_).count()


def test_a_writable_directory_is_healthy_with_its_available_space_stored(db, root):
    location = _location(root)

    result = check_location(location)

    location.refresh_from_db()
    assert result.status == StorageLocation.Status.HEALTHY
    assert location.status == StorageLocation.Status.HEALTHY
    assert location.available_space_gb is not None
    assert location.available_space_gb > 0
    assert not Notification.objects.filter(entity_id=location.pk).exists()


def test_a_missing_directory_is_unreachable_and_notified_once_over_two_checks(db, root):
    location = _location(root / "gone")

    first = check_location(location)
    second = check_location(location)

    location.refresh_from_db()
    assert location.status == StorageLocation.Status.UNREACHABLE
    assert (first.notified, second.notified) == (True, False)
    assert _notifications(location, "storage_unreachable") == 1
    notification = Notification.objects.get(entity_id=location.pk)
    assert notification.severity == "critical"
    assert "does not exist" in notification.message


def test_an_exceeded_quota_is_full_and_notified_once(db, root):
    (root / "big.dump").write_bytes(b"\0" * OVER_TINY_QUOTA)
    location = _location(root, max_size_gb=TINY_QUOTA_GB)

    check_location(location)
    check_location(location)

    location.refresh_from_db()
    assert location.status == StorageLocation.Status.FULL
    assert location.available_space_gb == Decimal("0.000")
    assert _notifications(location, "storage_full") == 1
    assert Notification.objects.get(entity_id=location.pk).severity == "critical"


def test_a_location_with_room_again_is_healthy_without_a_new_notification(db, root):
    big = root / "big.dump"
    big.write_bytes(b"\0" * OVER_TINY_QUOTA)
    location = _location(root, max_size_gb=TINY_QUOTA_GB)
    check_location(location)
    big.unlink()

    result = check_location(location)

    location.refresh_from_db()
    assert result.status == StorageLocation.Status.HEALTHY
    assert location.status == StorageLocation.Status.HEALTHY
    assert Notification.objects.filter(entity_id=location.pk).count() == 1


def test_becoming_full_again_after_recovering_notifies_again(db, root):
    big = root / "big.dump"
    big.write_bytes(b"\0" * OVER_TINY_QUOTA)
    location = _location(root, max_size_gb=TINY_QUOTA_GB)
    check_location(location)
    big.unlink()
    check_location(location)
    big.write_bytes(b"\0" * OVER_TINY_QUOTA)

    check_location(location)

    assert _notifications(location, "storage_full") == 2


def test_an_unreachable_location_keeps_its_last_measured_space(db, root):
    location = _location(root)
    check_location(location)
    location.refresh_from_db()
    measured = location.available_space_gb
    root.rmdir()

    check_location(location)

    location.refresh_from_db()
    assert location.status == StorageLocation.Status.UNREACHABLE
    assert location.available_space_gb == measured


def test_the_full_threshold_is_one_gib_on_a_large_disk():
    usage = StorageUsage(used_bytes=10 * 1024**3, available_bytes=500 * 1024**3)

    assert full_threshold_bytes(usage) == FULL_BELOW_BYTES


def test_the_full_threshold_is_two_percent_of_a_small_quota():
    usage = StorageUsage(used_bytes=600_000, available_bytes=400_000)

    assert full_threshold_bytes(usage) == 20_000


def test_the_periodic_task_checks_every_location(db, root):
    healthy = _location(root)
    missing = _location(root / "gone")

    check_storage_locations()

    healthy.refresh_from_db()
    missing.refresh_from_db()
    assert healthy.status == StorageLocation.Status.HEALTHY
    assert missing.status == StorageLocation.Status.UNREACHABLE


def test_storage_notifications_name_the_location_they_are_about(db, root):
    (root / "big.dump").write_bytes(b"\0" * OVER_TINY_QUOTA)
    full = _location(root, max_size_gb=TINY_QUOTA_GB)
    gone = _location(root / "gone")
    check_location(full)
    check_location(gone)
    for location in (full, gone):
        named = Notification.objects.get(entity_id=location.pk).metadata["storage_location"]
        assert named == {"id": str(location.pk), "name": location.name, "type": "local"}
