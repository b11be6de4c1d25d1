"""Fault: Redis loses its data (FLUSHALL, a restart without persistence) while a restore or a
verification is queued. The reaper sends each again from the database once it has been
quiet for ``LOST_QUEUED_AFTER``, and the re-sent message runs it; a message that arrives
after all (the original, or one sent again twice) does not run it a second time. Real
backups, real restores and verifications, the task functions called as a worker calls them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from core.queues import PRIORITY_MANUAL
from executions.models import BackupExecution
from executions.restore import restore_execution
from executions.scheduler import LOST_QUEUED_AFTER
from executions.tasks import enqueue_restore, enqueue_verification, reap_and_resend, run_restore
from executions.tasks import verify_backup as verify_task

pytestmark = pytest.mark.django_db

Status = BackupExecution.Status


@pytest.fixture
def files_backup(backup_of, tmp_path: Path) -> BackupExecution:
    source = tmp_path / "source"
    source.mkdir()
    (source / "orders.csv").write_text("1,42\n" * 200)
    backup: BackupExecution = backup_of("files", {"source_path": str(source)})
    return backup


def _after_the_loss() -> datetime:
    return timezone.now() + LOST_QUEUED_AFTER + timedelta(seconds=1)


def _sent(broker, task: str) -> list[list[object]]:
    return [
        args
        for key in broker.queues("backups")
        for name, args in broker.tasks(key)
        if name == f"executions.tasks.{task}"
    ]


def test_a_queued_restore_whose_message_was_lost_is_sent_again_and_runs(
    files_backup, tmp_path, broker, django_capture_on_commit_callbacks
):
    target = tmp_path / "restored"
    with django_capture_on_commit_callbacks(execute=True):
        restore = restore_execution(files_backup, target_path=str(target))
        enqueue_restore(restore)
    assert _sent(broker, "run_restore") == [[str(restore.pk)]]
    broker.clear()  # Redis lost its data

    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=_after_the_loss())

    assert result.redispatched == 1
    assert _sent(broker, "run_restore") == [[str(restore.pk)]]
    assert broker.queues("backups") == ["backups"]  # priority 0: somebody asked for it
    run_restore.apply(args=[str(restore.pk)])
    restore.refresh_from_db()
    assert restore.status == Status.COMPLETED, restore.error_message
    assert [p.read_text() for p in target.rglob("orders.csv")] == ["1,42\n" * 200]
    # The original message, had it survived, finds the restore no longer queued.
    run_restore.apply(args=[str(restore.pk)])
    restore.refresh_from_db()
    assert restore.status == Status.COMPLETED


def test_a_queued_verification_whose_message_was_lost_is_sent_again_and_runs_once(
    files_backup, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_verification(files_backup, priority=PRIORITY_MANUAL)
    ((_, lost_token),) = _sent(broker, "verify_backup")
    broker.clear()  # Redis lost its data

    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=_after_the_loss())

    assert result.reverified == 1
    ((backup_id, token),) = _sent(broker, "verify_backup")
    assert backup_id == str(files_backup.pk)
    assert token != lost_token
    assert broker.queues("backups") == ["backups"]  # sent again at its own priority, 0
    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["queued_at"] == token

    verify_task.apply(args=[backup_id, lost_token])  # the lost message turns up after all
    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["status"] == "queued"

    verify_task.apply(args=[backup_id, token])
    files_backup.refresh_from_db()
    verified = files_backup.metadata["verification"]
    assert verified["status"] == "passed", verified

    verify_task.apply(args=[backup_id, token])  # sent twice: the second does nothing
    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["verified_at"] == verified["verified_at"]


def test_a_verification_queued_recently_is_not_sent_again(
    files_backup, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_verification(files_backup)
    broker.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=timezone.now() + LOST_QUEUED_AFTER - timedelta(seconds=10))

    assert result.reverified == 0
    assert _sent(broker, "verify_backup") == []
