"""Applying retention: deleting old backups from storage and from the database.

``jobs.retention`` decides what is kept; this module applies the decision to a job's completed
backup executions. Storage is deleted before the row, so a row never points at an artifact that
is gone while the artifact is still there for a row that is gone: a failed storage delete keeps
the row, and the next run tries again (deleting what is already missing is not an error).

A backup that a queued or running restore reads from is never deleted (it is kept with the reason
``"restoring"``). Failed and cancelled executions older than ``FAILED_RETENTION_DAYS`` are pruned
whatever the job's policy.
"""

from __future__ import annotations

import fcntl
import logging
import uuid
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.logging import redact
from executions.models import BackupExecution
from executions.runlog import about
from jobs.models import BackupJob
from jobs.retention import BackupRecord, RetentionPlan, RetentionPolicy, plan_retention
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify
from storage.adapters.base import StorageAdapter, StorageError
from storage.models import StorageLocation

logger = logging.getLogger(__name__)

# Failed and cancelled runs are history worth a month of looking back at (why did last week's
# backups fail?), but not forever: a job failing every hour would grow the table without bound.
FAILED_RETENTION_DAYS = 30

RESTORING = "restoring"

# First key of PostgreSQL's two-key advisory locks, so ours never meet another component's.
_LOCK_NAMESPACE = 0x44470001

_ACTIVE = (BackupExecution.Status.QUEUED, BackupExecution.Status.RUNNING)


@dataclass(frozen=True)
class KeptBackup:
    execution: BackupExecution
    reasons: list[str]


@dataclass(frozen=True)
class RetentionPreview:
    """The plan for one job, with the executions themselves."""

    job: BackupJob
    plan: RetentionPlan[uuid.UUID]
    keep: list[KeptBackup]  # newest first
    delete: list[BackupExecution]  # oldest first

    @property
    def bytes_to_free(self) -> int:
        return sum(e.compressed_size_bytes or 0 for e in self.delete)


@dataclass
class CleanupResult:
    """What ``cleanup_job`` did (or, for a dry run, would do) to one job."""

    job: BackupJob
    dry_run: bool = False
    skipped: str = ""  # why nothing was done, when nothing was
    kept: list[KeptBackup] = field(default_factory=list)
    deleted: list[BackupExecution] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(e.compressed_size_bytes or 0 for e in self.deleted)


@dataclass
class PruneResult:
    """Failed and cancelled executions removed (or, for a dry run, that would be)."""

    dry_run: bool = False
    pruned: list[BackupExecution] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class CleanupSummary:
    jobs: list[CleanupResult]
    failed: PruneResult
    dry_run: bool = False

    @property
    def deleted_count(self) -> int:
        return sum(len(r.deleted) for r in self.jobs)

    @property
    def bytes_freed(self) -> int:
        return sum(r.bytes_freed for r in self.jobs)

    @property
    def errors(self) -> list[str]:
        return [e for r in self.jobs for e in r.errors] + self.failed.errors


def _finished(execution: BackupExecution) -> datetime:
    # A completed execution always has ``finished_at``; ``created_at`` only guards rows written
    # by hand or by an older version.
    return execution.finished_at or execution.created_at


def retention_preview(job: BackupJob, now: datetime | None = None) -> RetentionPreview:
    """What retention keeps (and why) and deletes for ``job`` at ``now``, whether or not the
    job's ``auto_delete`` is on. Nothing is changed."""
    now = now or timezone.now()
    executions = {
        e.pk: e
        for e in BackupExecution.objects.filter(
            job=job, kind=BackupExecution.Kind.BACKUP, status=BackupExecution.Status.COMPLETED
        ).select_related("storage_location")
    }
    records = [BackupRecord(id=pk, finished_at=_finished(e)) for pk, e in executions.items()]
    plan = plan_retention(
        records,
        RetentionPolicy.from_json(job.retention_policy),
        zoneinfo.ZoneInfo(job.schedule_timezone),
        now,
    )
    keep = {pk: list(reasons) for pk, reasons in plan.keep.items()}
    delete: list[uuid.UUID] = []
    restoring = _being_restored(plan.delete)
    for pk in plan.delete:
        if pk in restoring:
            keep[pk] = [RESTORING]
        else:
            delete.append(pk)
    kept = sorted(
        (KeptBackup(executions[pk], reasons) for pk, reasons in keep.items()),
        key=lambda k: _finished(k.execution),
        reverse=True,
    )
    return RetentionPreview(job=job, plan=plan, keep=kept, delete=[executions[pk] for pk in delete])


def _being_restored(ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return set(
        BackupExecution.objects.filter(
            kind=BackupExecution.Kind.RESTORE, status__in=_ACTIVE, source_execution__in=ids
        ).values_list("source_execution_id", flat=True)
    )


@contextmanager
def _job_lock(job: BackupJob) -> Iterator[bool]:
    """Yield whether this process holds the cleanup lock of ``job``.

    On PostgreSQL a session-level advisory lock rather than ``select_for_update`` on the job
    row: a row lock would make the scheduler's ``skip_locked`` tick skip the job's backups for
    as long as a slow storage delete takes, and would hold a transaction open across network
    calls. On SQLite (the embedded mode, where the web server, the workers and beat are several
    processes on one host) an exclusive ``flock`` on a file of the data directory does the same.
    """
    if connection.vendor != "postgresql":
        with _file_lock(lock_file(job)) as held:
            yield held
        return
    key = int.from_bytes(job.pk.bytes[:4], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, key])
        row = cursor.fetchone()
        acquired = bool(row and row[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, key])


def lock_file(job: BackupJob) -> Path:
    """The file whose ``flock`` is the cleanup lock of ``job`` on SQLite."""
    return Path(settings.DATA_DIR) / "locks" / f"cleanup-{job.pk}.lock"


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    """Yield whether this process got the exclusive lock on ``path`` without waiting; the
    kernel releases it when the file is closed, even if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _error_text(exc: Exception, location: StorageLocation) -> str:
    """A readable message without the location's secrets."""
    text = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
    for name in location.adapter.secret_fields:
        secret = location.config.get(name)
        if isinstance(secret, str) and len(secret) >= 3:
            text = text.replace(secret, "********")
    return redact(text)


def _delete_run(
    adapters: dict[uuid.UUID, StorageAdapter], execution: BackupExecution
) -> str | None:
    """Delete the run's directory, if it owns one, then its row. A storage failure keeps the
    row (the next cleanup retries) and is returned as a message instead of raised."""
    error = _delete_artifact(adapters, execution)
    if error is None:
        BackupExecution.objects.filter(pk=execution.pk).delete()
    return error


def _delete_artifact(
    adapters: dict[uuid.UUID, StorageAdapter], execution: BackupExecution
) -> str | None:
    if not execution.owns_stored_files:
        return None
    location = execution.storage_location
    try:
        if location.pk not in adapters:
            adapters[location.pk] = location.adapter(location.config)
        adapters[location.pk].delete(str(execution.backup_path))
    except Exception as exc:  # any failure keeps the row; the next run retries
        message = f"Could not delete the files of backup {execution.pk}: "
        message += _error_text(exc, location)
        logger.warning("%s", message)
        return message
    return None


def discard_lost_runs(execution_ids: list[str]) -> list[str]:
    """Delete what backups lost with their worker wrote to storage (``backup_path``, set by the
    reaper), so a killed 50 GB run does not hold 50 GB until the pruning of old failed runs.
    A run whose files are gone has its ``backup_path`` cleared; a storage error keeps it, for
    that pruning to try again, and is returned."""
    lost = BackupExecution.objects.filter(
        pk__in=execution_ids,
        kind=BackupExecution.Kind.BACKUP,
        status=BackupExecution.Status.FAILED,
    ).select_related("job", "datasource", "storage_location")
    adapters: dict[uuid.UUID, StorageAdapter] = {}
    errors = []
    for execution in lost:
        if not execution.owns_stored_files:
            continue
        with about(execution):
            error = _delete_artifact(adapters, execution)
            if error:
                errors.append(error)
                continue
            logger.info(
                "Deleted the partial files of lost run %s at %s",
                execution.pk,
                execution.backup_path,
            )
        BackupExecution.objects.filter(pk=execution.pk).update(backup_path=None)
    return errors


def _record_reasons(kept: list[KeptBackup], now: datetime) -> None:
    for item in kept:
        execution = item.execution
        current = execution.metadata.get("retention") or {}
        if current.get("kept_by") == item.reasons:
            continue  # unchanged: no write, so a daily run does not rewrite every row
        execution.metadata = {
            **execution.metadata,
            "retention": {"kept_by": item.reasons, "evaluated_at": now.isoformat()},
        }
        execution.save(update_fields=["metadata"])


def cleanup_job(
    job: BackupJob, *, dry_run: bool = False, now: datetime | None = None
) -> CleanupResult:
    """Apply ``job``'s retention policy, if its ``auto_delete`` is on.

    For each backup to delete, its storage directory is deleted first and its row (and chunks)
    only after that succeeded; an error is recorded and the others go on. Each kept backup gets
    ``metadata["retention"] = {"kept_by": [...], "evaluated_at": ...}``. A dry run changes
    nothing and reports what would be deleted. A job whose cleanup already runs elsewhere is
    skipped.
    """
    now = now or timezone.now()
    result = CleanupResult(job=job, dry_run=dry_run)
    if not RetentionPolicy.from_json(job.retention_policy).auto_delete:
        result.skipped = "automatic deletion is off"
        return result
    with _job_lock(job) as acquired:
        if not acquired:
            result.skipped = "another cleanup of this job is running"
            return result
        preview = retention_preview(job, now)
        result.kept = list(preview.keep)
        if dry_run:
            result.deleted = list(preview.delete)
            return result
        _record_reasons(result.kept, now)
        adapters: dict[uuid.UUID, StorageAdapter] = {}
        for execution in preview.delete:
            # Checked again right before deleting: a restore may have been queued since the
            # preview.
            if _being_restored([execution.pk]):
                result.kept.append(KeptBackup(execution, [RESTORING]))
                continue
            error = _delete_run(adapters, execution)
            if error:
                result.errors.append(error)
                continue
            result.deleted.append(execution)
            logger.info("Retention deleted backup %s of job %s", execution.pk, job.pk)
    return result


def prune_failed(
    older_than_days: int = FAILED_RETENTION_DAYS,
    *,
    dry_run: bool = False,
    job: BackupJob | None = None,
    now: datetime | None = None,
) -> PruneResult:
    """Delete failed and cancelled executions (of every job, or of ``job``) that finished more
    than ``older_than_days`` ago.

    Their run already removed its partial files; any ``backup_path`` left is deleted again
    (missing is not an error) before the row, and a storage error keeps the row.
    """
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    result = PruneResult(dry_run=dry_run)
    old = (
        BackupExecution.objects.filter(
            status__in=[BackupExecution.Status.FAILED, BackupExecution.Status.CANCELLED]
        )
        .alias(ended=Coalesce("finished_at", "created_at"))
        .filter(Q(ended__lt=cutoff))
        .select_related("storage_location")
        .order_by("created_at")
    )
    if job is not None:
        old = old.filter(job=job)
    adapters: dict[uuid.UUID, StorageAdapter] = {}
    for execution in old:
        if dry_run:
            result.pruned.append(execution)
            continue
        error = _delete_run(adapters, execution)
        if error:
            result.errors.append(error)
            continue
        result.pruned.append(execution)
    return result


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _notify(summary: CleanupSummary) -> None:
    errors = summary.errors
    title = f"Cleanup deleted {summary.deleted_count} backups ({_size(summary.bytes_freed)})"
    message = (
        f"Retention deleted {summary.deleted_count} backups and freed "
        f"{_size(summary.bytes_freed)}; {len(summary.failed.pruned)} old failed or cancelled "
        f"executions were removed."
    )
    if errors:
        message += f" {len(errors)} could not be deleted and will be retried:\n" + "\n".join(errors)
    metadata: dict[str, Any] = {
        "deleted": summary.deleted_count,
        "bytes_freed": summary.bytes_freed,
        "failed_pruned": len(summary.failed.pruned),
        "errors": len(errors),
        "jobs": {
            str(r.job.pk): {"deleted": len(r.deleted), "bytes_freed": r.bytes_freed}
            for r in summary.jobs
            if r.deleted or r.errors
        },
    }
    notify(
        NotificationType.CLEANUP_COMPLETED,
        Severity.WARNING if errors else Severity.INFO,
        title,
        message,
        entity_type=EntityType.SYSTEM,
        metadata=metadata,
    )


def run_cleanup(
    *, dry_run: bool = False, job: BackupJob | None = None, now: datetime | None = None
) -> CleanupSummary:
    """Clean up every job (or only ``job``), then prune old failed executions (of that job),
    and record one ``cleanup_completed`` notification when something was deleted or could not
    be (never for a dry run)."""
    now = now or timezone.now()
    jobs = [job] if job is not None else list(BackupJob.objects.order_by("name", "id"))
    results = []
    for each in jobs:
        try:
            results.append(cleanup_job(each, dry_run=dry_run, now=now))
        except Exception as exc:  # one broken job must not stop the cleanup of the others
            logger.exception("Cleanup of job %s failed", each.pk)
            failed = CleanupResult(job=each, dry_run=dry_run)
            failed.errors.append(f"Cleanup of job {each.name} failed: {type(exc).__name__}")
            results.append(failed)
    pruned = prune_failed(dry_run=dry_run, job=job, now=now)
    summary = CleanupSummary(jobs=results, failed=pruned, dry_run=dry_run)
    if not dry_run and (summary.deleted_count or summary.failed.pruned or summary.errors):
        _notify(summary)
    return summary
