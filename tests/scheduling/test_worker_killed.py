"""A real worker killed in the middle of a backup: the reaper fails the run it left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from executions.artifact import artifact_directory
from executions.models import BackupExecution
from executions.scheduler import STALE_RUNNING_AFTER
from executions.services import create_backup_execution
from executions.tasks import enqueue_backup, reap_and_resend
from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.support.faults import Worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path) -> Iterator[Worker]:
    """``celery worker`` on the backups queue, against this test's database and broker."""
    started = Worker(tmp_path, "killed", "backups").start()
    yield started
    started.kill()


def wait_for_progress(execution: BackupExecution, timeout: float = 30) -> None:
    """Until the worker has claimed the run and written at least one progress heartbeat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution.refresh_from_db()
        if execution.status == "running" and execution.progress.get("bytes_in", 0) > 0:
            return
        assert execution.status in ("queued", "running"), execution.error_message
        time.sleep(0.2)
    raise AssertionError("the worker never reported progress")


def test_a_backup_whose_worker_was_killed_is_failed_by_the_reaper_without_a_manifest(
    tmp_path, worker, broker
):
    source = tmp_path / "source"
    source.mkdir()
    for index in range(4):
        (source / f"blob{index}.bin").write_bytes(os.urandom(16 * 1024 * 1024))
    storage = tmp_path / "storage"
    storage.mkdir()
    job = BackupJobFactory.create(
        datasource=DatasourceFactory.create(
            type="files", connection_config={"source_path": str(source)}
        ),
        storage_location=StorageLocationFactory.create(config={"path": str(storage)}),
        # zstd at its slowest level keeps the run busy for several seconds.
        backup_options={"compression": "zstd", "compression_level": 19},
    )
    execution = create_backup_execution(job)
    enqueue_backup(execution)  # no transaction here: sent at once

    wait_for_progress(execution)
    worker.kill()

    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.RUNNING  # nothing else noticed
    reap_and_resend(now=timezone.now() + STALE_RUNNING_AFTER + timedelta(seconds=5))
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.FAILED
    assert str(execution.error_message).startswith("worker lost: no heartbeat since")
    assert list(storage.rglob("manifest.json")) == []
    # Where the partial files are, for the deletion the reaper sends.
    assert execution.backup_path == artifact_directory(execution)
    assert (storage / execution.backup_path).is_dir()
