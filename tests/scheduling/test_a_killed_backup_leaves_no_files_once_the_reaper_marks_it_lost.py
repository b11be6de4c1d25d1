"""Fault: a worker is killed mid-backup after it published some chunks. When the reaper marks
the run lost it sends the deletion of what the run wrote, so a killed 50 GB run does not hold
50 GB for the 30 days until failed runs are pruned; the retry it queues writes elsewhere."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.queues import PRIORITY_SCHEDULED
from executions.artifact import artifact_directory
from executions.models import BackupExecution
from executions.scheduler import STALE_RUNNING_AFTER
from executions.services import create_backup_execution
from executions.tasks import discard_lost_runs, reap_and_resend
from storage.adapters.local import LocalAdapter

pytestmark = pytest.mark.django_db


def _published_chunks(execution: BackupExecution, root: Path) -> Path:
    """Two chunks as a run publishes them before its manifest (which the killed run never
    wrote)."""
    directory = root / artifact_directory(execution)
    directory.mkdir(parents=True)
    for number in (1, 2):
        (directory / f"backup.dump.zst.part{number:03d}").write_bytes(b"\x28\xb5\x2f\xfd" * 1024)
    return directory


def test_the_reaper_sends_the_deletion_of_a_lost_runs_chunks_and_it_deletes_them(
    backup_job, broker, django_capture_on_commit_callbacks
):
    root = Path(backup_job.storage_location.config["path"])
    killed = create_backup_execution(backup_job)
    killed.claim(worker="celery@killed")
    directory = _published_chunks(killed, root)
    assert killed.heartbeat_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(
            now=killed.heartbeat_at + STALE_RUNNING_AFTER + timedelta(seconds=1)
        )

    assert (result.failed, result.retried) == (1, 1)
    assert broker.tasks(f"cleanup:{PRIORITY_SCHEDULED}") == [
        ("executions.tasks.discard_lost_runs", [[str(killed.pk)]])
    ]
    discard_lost_runs.apply(args=[[str(killed.pk)]])

    assert not directory.exists()
    killed.refresh_from_db()
    assert killed.status == BackupExecution.Status.FAILED
    assert killed.backup_path is None
    assert str(killed.error_message).startswith("worker lost")


def test_a_storage_error_keeps_the_path_for_the_pruning_to_try_again(backup_job, monkeypatch):
    killed = create_backup_execution(backup_job)
    killed.claim(worker="celery@killed")
    assert killed.heartbeat_at is not None
    reap_and_resend(now=killed.heartbeat_at + STALE_RUNNING_AFTER + timedelta(seconds=1))
    killed.refresh_from_db()
    path = killed.backup_path
    assert path

    def refuse(self, path):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(LocalAdapter, "delete", refuse)
    discard_lost_runs.apply(args=[[str(killed.pk)]])

    killed.refresh_from_db()
    assert killed.backup_path == path


def test_the_retry_of_a_lost_run_is_not_touched(backup_job):
    root = Path(backup_job.storage_location.config["path"])
    killed = create_backup_execution(backup_job)
    killed.claim(worker="celery@killed")
    _published_chunks(killed, root)
    assert killed.heartbeat_at is not None
    reap_and_resend(now=killed.heartbeat_at + STALE_RUNNING_AFTER + timedelta(seconds=1))
    retry = BackupExecution.objects.get(metadata__retry_of=str(killed.pk))
    retry.claim(worker="celery@here")
    retry_directory = _published_chunks(retry, root)

    discard_lost_runs.apply(args=[[str(killed.pk), str(retry.pk)]])

    assert sorted(p.name for p in retry_directory.iterdir()) == [
        "backup.dump.zst.part001",
        "backup.dump.zst.part002",
    ]
