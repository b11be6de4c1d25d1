"""Retention applied to real executions and real files in a local storage location."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from executions.cleanup import (
    _LOCK_NAMESPACE,
    _error_text,
    _file_lock,
    cleanup_job,
    lock_file,
    prune_failed,
    retention_preview,
    run_cleanup,
)
from executions.models import BackupChunk, BackupExecution
from jobs.models import BackupJob
from notifications.models import Notification
from tests.factories import BackupExecutionFactory, BackupJobFactory, StorageLocationFactory

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 12:00 in the jobs' São Paulo time zone
DAY = timedelta(days=1)
Status = BackupExecution.Status


@pytest.fixture
def root(storage_location) -> Path:
    path = Path(storage_location.config["path"])
    path.mkdir(parents=True)
    return path


@pytest.fixture
def job(backup_job: BackupJob, root: Path) -> BackupJob:
    """Keeps two days of dailies and nothing else, and deletes automatically."""
    backup_job.retention_policy = {
        "keep_daily": 2,
        "keep_weekly": 0,
        "keep_monthly": 0,
        "auto_delete": True,
    }
    backup_job.save()
    return backup_job


def make_backup(
    job: BackupJob,
    finished_at: datetime,
    *,
    status: str = Status.COMPLETED,
    size: int = 1000,
    **fields: Any,
) -> BackupExecution:
    """An execution whose run directory holds a chunk, SHA256SUMS and manifest.json."""
    execution = BackupExecutionFactory.create(
        job=job,
        status=status,
        started_at=finished_at - timedelta(minutes=5),
        finished_at=finished_at,
        created_at=finished_at - timedelta(minutes=5),
        compressed_size_bytes=size,
        **fields,
    )
    directory = f"{job.datasource_id}/{job.id}/{finished_at:%Y%m%dT%H%M%SZ}-{execution.id}"
    adapter = job.storage_location.adapter(job.storage_location.config)
    for name, data in (
        ("db.dump.zst", b"x" * size),
        ("SHA256SUMS", b"sum"),
        ("manifest.json", b"{}"),
    ):
        with adapter.open_write(f"{directory}/{name}") as writer:
            writer.write(data)
    execution.backup_path = directory
    execution.save(update_fields=["backup_path"])
    BackupChunk.objects.create(
        execution=execution,
        chunk_number=1,
        file_path=f"{directory}/db.dump.zst",
        size_bytes=size,
        checksum="0" * 64,
    )
    return execution


def files_exist(root: Path, execution: BackupExecution) -> bool:
    return (root / str(execution.backup_path) / "manifest.json").is_file()


def row_exists(execution: BackupExecution) -> bool:
    return BackupExecution.objects.filter(pk=execution.pk).exists()


# --- cleanup_job --------------------------------------------------------------------------


def test_cleanup_deletes_the_files_and_rows_of_backups_the_policy_does_not_keep(job, root):
    make_backup(job, NOW - timedelta(hours=2))
    old = make_backup(job, NOW - 5 * DAY)
    cleanup_job(job, now=NOW)
    assert not (root / str(old.backup_path)).exists()
    assert not row_exists(old)
    assert not BackupChunk.objects.filter(execution_id=old.pk).exists()


def test_cleanup_leaves_the_files_and_rows_of_kept_backups(job, root):
    today = make_backup(job, NOW - timedelta(hours=2))
    yesterday = make_backup(job, NOW - DAY)
    cleanup_job(job, now=NOW)
    assert files_exist(root, today)
    assert files_exist(root, yesterday)
    assert row_exists(today)
    assert row_exists(yesterday)


def test_cleanup_reports_the_deleted_count_and_the_bytes_freed(job):
    make_backup(job, NOW - timedelta(hours=2))
    make_backup(job, NOW - 5 * DAY, size=300)
    make_backup(job, NOW - 6 * DAY, size=700)
    result = cleanup_job(job, now=NOW)
    assert len(result.deleted) == 2
    assert result.bytes_freed == 1000
    assert result.errors == []


def test_cleanup_records_on_each_kept_backup_why_it_is_kept(job):
    today = make_backup(job, NOW - timedelta(hours=2))
    cleanup_job(job, now=NOW)
    today.refresh_from_db()
    assert today.metadata["retention"] == {
        "kept_by": ["newest", "daily 2026-11-20"],
        "evaluated_at": NOW.isoformat(),
    }


def test_cleanup_does_not_rewrite_reasons_that_did_not_change(job):
    today = make_backup(job, NOW - timedelta(hours=2))
    cleanup_job(job, now=NOW)
    cleanup_job(job, now=NOW + timedelta(hours=1))
    today.refresh_from_db()
    assert today.metadata["retention"]["evaluated_at"] == NOW.isoformat()


def test_a_storage_failure_keeps_the_row_and_the_other_deletions_go_on(job, root, tmp_path):
    make_backup(job, NOW - timedelta(hours=2))
    broken = make_backup(job, NOW - 6 * DAY)
    other = make_backup(job, NOW - 5 * DAY)
    # The run directory replaced by a link out of the location: the adapter refuses to delete.
    outside = tmp_path / "elsewhere"
    (root / str(broken.backup_path)).rename(outside)
    (root / str(broken.backup_path)).symlink_to(outside)
    result = cleanup_job(job, now=NOW)
    assert row_exists(broken)
    assert not row_exists(other)
    assert len(result.errors) == 1
    assert str(broken.pk) in result.errors[0]


def test_cleanup_never_deletes_the_newest_backup_even_when_it_is_old(job, root):
    job.retention_policy = {**job.retention_policy, "keep_daily": 0}
    job.save()
    newest = make_backup(job, NOW - 90 * DAY)
    make_backup(job, NOW - 91 * DAY)
    cleanup_job(job, now=NOW)
    assert list(BackupExecution.objects.filter(job=job)) == [newest]
    assert files_exist(root, newest)


def test_cleanup_never_deletes_a_backup_that_a_running_restore_reads(job, root):
    make_backup(job, NOW - timedelta(hours=2))
    source = make_backup(job, NOW - 5 * DAY)
    BackupExecutionFactory.create(
        job=job, kind=BackupExecution.Kind.RESTORE, status=Status.RUNNING, source_execution=source
    )
    result = cleanup_job(job, now=NOW)
    assert row_exists(source)
    assert files_exist(root, source)
    assert [k.reasons for k in result.kept if k.execution.pk == source.pk] == [["restoring"]]


def test_a_finished_restore_does_not_protect_its_backup_and_loses_its_link(job):
    make_backup(job, NOW - timedelta(hours=2))
    source = make_backup(job, NOW - 5 * DAY)
    restore = BackupExecutionFactory.create(
        job=job,
        kind=BackupExecution.Kind.RESTORE,
        status=Status.COMPLETED,
        source_execution=source,
        finished_at=NOW - 4 * DAY,
    )
    cleanup_job(job, now=NOW)
    restore.refresh_from_db()
    assert not row_exists(source)
    assert restore.source_execution_id is None


def test_cleanup_never_touches_running_or_queued_backups(job, root):
    running = make_backup(job, NOW - 9 * DAY, status=Status.RUNNING)
    queued = BackupExecutionFactory.create(job=job, status=Status.QUEUED)
    cleanup_job(job, now=NOW)
    assert row_exists(running)
    assert files_exist(root, running)
    assert row_exists(queued)


def test_cleanup_never_touches_another_jobs_backups(job, root):
    other_job = BackupJobFactory.create(
        datasource=job.datasource,
        storage_location=job.storage_location,
        retention_policy={"keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0},
    )
    make_backup(job, NOW - timedelta(hours=1))
    others = [make_backup(other_job, NOW - n * DAY) for n in (3, 4)]
    cleanup_job(job, now=NOW)
    assert all(row_exists(e) and files_exist(root, e) for e in others)


def test_a_dry_run_lists_what_would_be_deleted_and_changes_nothing(job, root):
    today = make_backup(job, NOW - timedelta(hours=2))
    old = make_backup(job, NOW - 5 * DAY)
    result = cleanup_job(job, dry_run=True, now=NOW)
    today.refresh_from_db()
    assert [e.pk for e in result.deleted] == [old.pk]
    assert row_exists(old)
    assert files_exist(root, old)
    assert "retention" not in today.metadata


def test_a_job_without_auto_delete_is_skipped(job):
    make_backup(job, NOW - timedelta(hours=2))
    job.retention_policy = {**job.retention_policy, "auto_delete": False}
    job.save()
    old = make_backup(job, NOW - 5 * DAY)
    result = cleanup_job(job, now=NOW)
    assert result.skipped == "automatic deletion is off"
    assert row_exists(old)


def test_the_preview_works_without_auto_delete(job):
    job.retention_policy = {**job.retention_policy, "auto_delete": False}
    job.save()
    old = make_backup(job, NOW - 5 * DAY)
    make_backup(job, NOW - timedelta(hours=2))
    preview = retention_preview(job, now=NOW)
    assert [e.pk for e in preview.delete] == [old.pk]
    assert preview.bytes_to_free == 1000


def test_a_job_whose_cleanup_runs_in_another_process_is_skipped(job):
    make_backup(job, NOW - timedelta(hours=2))
    old = make_backup(job, NOW - 5 * DAY)
    with _cleanup_lock_held_elsewhere(job) as held:
        assert held
        result = cleanup_job(job, now=NOW)
    assert result.skipped == "another cleanup of this job is running"
    assert row_exists(old)


def test_a_finished_cleanup_releases_its_lock_on_the_job(job):
    cleanup_job(job, now=NOW)
    with _cleanup_lock_held_elsewhere(job) as held:
        assert held


@contextmanager
def _cleanup_lock_held_elsewhere(job) -> Iterator[bool]:
    """Take the job's cleanup lock as another process would, yielding whether it was free:
    PostgreSQL's advisory lock from a second connection, or the lock file's flock from a
    second open file (flock locks belong to the open file, so this conflicts even here)."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(job.pk.bytes[:4], "big", signed=True)
        db = connection.settings_dict
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
        ) as other:
            row = other.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, key]
            ).fetchone()
            yield row == (True,)
        return
    with _file_lock(lock_file(job)) as held:
        yield held


def test_a_storage_error_message_never_shows_the_locations_secret():
    location = StorageLocationFactory.build(
        type="s3", config={"bucket": "b", "secret_access_key": "wJalrXUtnFEMI-K7MDENG"}
    )
    text = _error_text(RuntimeError("signature for wJalrXUtnFEMI-K7MDENG refused"), location)
    assert "wJalrXUtnFEMI-K7MDENG" not in text
    assert text.startswith("RuntimeError: signature for")


# --- failed and cancelled executions -------------------------------------------------------


def test_failed_executions_older_than_the_limit_are_pruned_with_their_files(job, root):
    failed = make_backup(job, NOW - 31 * DAY, status=Status.FAILED)
    prune_failed(now=NOW)
    assert not row_exists(failed)
    assert not (root / str(failed.backup_path)).exists()


def test_cancelled_executions_older_than_the_limit_are_pruned(job):
    cancelled = BackupExecutionFactory.create(
        job=job, status=Status.CANCELLED, finished_at=NOW - 40 * DAY
    )
    prune_failed(now=NOW)
    assert not row_exists(cancelled)


def test_recent_failed_executions_are_kept(job):
    failed = make_backup(job, NOW - 29 * DAY, status=Status.FAILED)
    prune_failed(now=NOW)
    assert row_exists(failed)


# --- run_cleanup and its notification ------------------------------------------------------


def test_run_cleanup_records_one_notification_with_the_count_and_bytes_freed(job):
    make_backup(job, NOW - timedelta(hours=2))
    make_backup(job, NOW - 5 * DAY, size=2048)
    make_backup(job, NOW - 40 * DAY, status=Status.FAILED)
    run_cleanup(now=NOW)
    notification = Notification.objects.get()
    assert notification.type == "cleanup_completed"
    assert notification.severity == "info"
    assert notification.title == "Cleanup deleted 1 backups (2.0 KiB)"
    assert notification.metadata["deleted"] == 1
    assert notification.metadata["bytes_freed"] == 2048
    assert notification.metadata["failed_pruned"] == 1


def test_run_cleanup_sends_no_notification_when_nothing_was_deleted(job):
    make_backup(job, NOW - timedelta(hours=2))
    run_cleanup(now=NOW)
    assert not Notification.objects.exists()


def test_a_dry_run_sends_no_notification(job):
    make_backup(job, NOW - timedelta(hours=2))
    make_backup(job, NOW - 5 * DAY)
    run_cleanup(dry_run=True, now=NOW)
    assert not Notification.objects.exists()


def test_a_cleanup_with_errors_notifies_a_warning_naming_the_backup(job, root, tmp_path):
    broken = make_backup(job, NOW - 5 * DAY)
    make_backup(job, NOW - timedelta(hours=2))
    (root / str(broken.backup_path)).rename(tmp_path / "elsewhere")
    (root / str(broken.backup_path)).symlink_to(tmp_path / "elsewhere")
    run_cleanup(now=NOW)
    notification = Notification.objects.get()
    assert notification.severity == "warning"
    assert str(broken.pk) in notification.message


# --- manage.py cleanup --------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("cleanup", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo("America/Sao_Paulo"))


def test_the_command_prints_what_it_keeps_with_reasons_and_what_it_would_delete(job):
    now = timezone.now()
    today = make_backup(job, now - timedelta(minutes=1))
    old = make_backup(job, now - 5 * DAY)
    output = run_command("--dry-run", "--job", job.name)
    kept_at = _local(now - timedelta(minutes=1))
    deleted_at = _local(now - 5 * DAY)
    assert (
        f"keep    {kept_at:%Y-%m-%d %H:%M %Z}  {today.pk}  newest, daily {kept_at:%Y-%m-%d}"
        in output
    )
    assert f"would delete {deleted_at:%Y-%m-%d %H:%M %Z}  {old.pk}  1000 bytes" in output
    assert row_exists(old)


def test_the_command_prints_the_totals(job):
    make_backup(job, timezone.now() - timedelta(minutes=1))
    make_backup(job, timezone.now() - 5 * DAY)
    output = run_command("--job", str(job.pk))
    assert "deleted 1 backups (1000 bytes)" in output


def test_the_command_fails_when_a_deletion_failed(job, root, tmp_path):
    broken = make_backup(job, timezone.now() - 5 * DAY)
    make_backup(job, timezone.now() - timedelta(minutes=1))
    (root / str(broken.backup_path)).rename(tmp_path / "elsewhere")
    (root / str(broken.backup_path)).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CommandError, match="1 deletions failed"):
        run_command("--job", job.name)
