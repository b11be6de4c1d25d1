"""Fault: the storage location's filesystem fills up while a backup writes to it (a small
tmpfs, at a random size, sometimes already part full). The run fails with the reason, the
operator is told, nothing of it stays on the filesystem, and the space is free again."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from executions.models import BackupExecution
from executions.tasks import back_up
from notifications.models import Notification, NotificationType
from tests.factories import StorageLocationFactory
from tests.support.faults import Tally, rng, rounds, violations
from tests.support.jobs import claimed_backup

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of its own (this needs root, as CI runs); resized by each round."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_location_that_fills_up_mid_write_keeps_nothing_of_the_run(files_job, small_disk):
    root = small_disk / "backups"  # the junk that fills the disk lies beside it
    root.mkdir()
    files_job.storage_location = StorageLocationFactory.create(config={"path": str(root)})
    files_job.backup_options = {"compression": "zstd", "compression_level": 1}
    files_job.save()
    tally = Tally("storage filled up during a backup")
    for number in range(rounds(default=4)):
        draw = rng(tally.fault, number)
        size = draw.randint(1, 11) * MIB  # the tree is about 12.5 MiB once compressed
        subprocess.run(["mount", "-o", f"remount,size={size}", str(small_disk)], check=True)
        junk = draw.choice([0, size // 4, size // 2])
        if junk:
            (small_disk / "junk").write_bytes(b"\0" * junk)
        room = "1-4 MiB" if size <= 4 * MIB else "5-8 MiB" if size <= 8 * MIB else "9-11 MiB"
        tally.strike(f"{room}, {'part full' if junk else 'empty'}")
        free_before = shutil.disk_usage(small_disk).free

        execution = claimed_backup(files_job)
        completed = back_up(execution)

        execution.refresh_from_db()
        found = violations()
        if completed or execution.status != BackupExecution.Status.FAILED:
            found.append(f"the run ended {execution.status} on a {size // MIB} MiB disk")
        if "No space left" not in str(execution.error_message):
            found.append(f"the reason is not given: {execution.error_message!r}")
        told = Notification.objects.filter(
            type=NotificationType.BACKUP_FAILED, entity_id=execution.pk
        )
        if not told.exists():
            found.append("the operator was not told")
        left = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
        if left:
            found.append(f"the run left {left}")
        if shutil.disk_usage(small_disk).free < free_before:
            found.append("the space the run took is not free again")
        tally.add(number, found)
        if junk:
            os.unlink(small_disk / "junk")
    tally.close()
