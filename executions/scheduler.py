"""The minute tick that turns due jobs into queued executions, and the reaper that keeps the
database (the source of truth for work) and the workers in step.

Both run in one transaction with a fixed number of queries however many jobs or executions
they touch, and both are safe to run twice at once or twice in a row. docs/SCHEDULING.md
describes the behaviour for operators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.queues import BACKUPS
from executions import alerts
from executions.artifact import artifact_directory
from executions.models import BackupExecution
from executions.runlog import about, collecting
from executions.services import build_backup_execution
from jobs.models import BackupJob
from jobs.schedule import next_run

logger = logging.getLogger(__name__)

SKIPPED_OVERLAP = "skipped: previous run still running"

# A running backup writes its heartbeat with its progress every 2 s (executions.backup); a
# worker that has been silent for a whole minute of those is gone. Two minutes leaves room for
# a busy database and a slow storage round trip.
STALE_RUNNING_AFTER = timedelta(minutes=2)
# A queued execution normally starts within seconds or waits for a free slot, re-announcing
# itself every 30 s (see executions.tasks.CAP_RETRY_SECONDS). Five minutes of silence means
# its message is gone (a Redis restart without persistence, FLUSHALL).
LOST_QUEUED_AFTER = timedelta(minutes=5)
# A verification lost with its worker is sent again once; lost on its second try too, it is
# recorded as failed (a restore that kills its worker every time would otherwise loop).
VERIFY_ATTEMPTS = 2

Status = BackupExecution.Status
BUSY = (Status.QUEUED, Status.RUNNING)


@dataclass(frozen=True)
class TickResult:
    """What one tick did. ``skipped`` jobs were due while their previous run was still queued
    or running; ``already_run`` slots had an execution before (a stale ``next_execution_at``
    written back by an old copy of the job)."""

    due: int
    queued: int
    skipped: int
    already_run: int
    # The executions created, for the caller to send to the workers once this committed.
    to_send: list[BackupExecution] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class ReapResult:
    """What one reaper pass did. ``to_send`` pairs each execution to (re)send (a backup or a
    restore) with the delay before it runs: none for a lost message, the backoff for a retry
    of a dead worker's run. ``verifications`` are the backups whose queued verification lost
    its message, each with its new ``queued_at`` (the message's token)."""

    failed: int
    retried: int
    redispatched: int
    to_send: list[tuple[BackupExecution, int | None]] = field(
        default_factory=list, compare=False, repr=False
    )
    reverified: int = 0
    verifications: list[tuple[BackupExecution, str]] = field(
        default_factory=list, compare=False, repr=False
    )
    # The lost backups whose partial files are to be deleted (``cleanup.discard_lost_runs``).
    to_discard: list[str] = field(default_factory=list, compare=False, repr=False)


def enqueue_due_jobs(now: datetime | None = None) -> TickResult:
    """Queue one execution for every enabled job whose ``next_execution_at`` has passed, and
    return them in ``to_send`` for the caller to send once this transaction commits.

    Jobs another tick holds are skipped (``SKIP LOCKED``), so two ticks never queue the same
    slot; the unique (job, scheduled_for) constraint backs that up. Each due job moves to its
    first slot after ``now``, so slots missed while nothing ran collapse into one run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        jobs = list(
            BackupJob.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(enabled=True, next_execution_at__lte=now)
            .only(
                "id",
                "name",
                "datasource_id",
                "storage_location_id",
                "schedule_cron",
                "schedule_timezone",
                "next_execution_at",
            )
            .order_by("next_execution_at")
        )
        if not jobs:
            return TickResult(0, 0, 0, 0)
        busy, already = _occupied(jobs)
        new: list[BackupExecution] = []
        to_send: list[BackupExecution] = []
        nexts: dict[tuple[str, str], datetime] = {}
        already_run = 0
        for job in jobs:
            slot = job.next_execution_at
            if (job.id, slot) in already:
                already_run += 1
            elif job.id in busy:
                logger.info(
                    "Job %s (%s): slot %s skipped, execution %s is still %s",
                    job.name,
                    job.id,
                    slot,
                    busy[job.id][0],
                    busy[job.id][1],
                )
                new.append(_skipped(job, slot, busy[job.id], now))
            else:
                execution = build_backup_execution(
                    job,
                    BackupExecution.Trigger.SCHEDULED,
                    scheduled_for=slot,
                    created_at=now,
                    # For a queued execution heartbeat_at is when its message was last sent.
                    heartbeat_at=now,
                )
                new.append(execution)
                to_send.append(execution)
            key = (job.schedule_cron, job.schedule_timezone)
            if key not in nexts:
                nexts[key] = next_run(job.schedule_cron, job.schedule_timezone, now)
            job.next_execution_at = nexts[key]
        # The job rows are locked and the slots checked above; ignore_conflicts only keeps a
        # row inserted by some other path from failing the whole tick.
        BackupExecution.objects.bulk_create(new, ignore_conflicts=True)
        _advance(jobs)
    result = TickResult(len(jobs), len(to_send), len(new) - len(to_send), already_run, to_send)
    logger.info("Scheduler tick at %s: %s", now.isoformat(), result)
    return result


def _advance(jobs: list[BackupJob], batch: int = 5000) -> None:
    """Write every job's new ``next_execution_at`` in one UPDATE ... FROM (VALUES ...) per
    ``batch`` jobs. ``bulk_update`` would do it with a CASE per row, whose expression building
    costs about a second per thousand jobs; both PostgreSQL and SQLite (3.33+) run this form."""
    table = connection.ops.quote_name(BackupJob._meta.db_table)
    pk = BackupJob._meta.pk
    assert pk is not None
    field = BackupJob._meta.get_field("next_execution_at")
    for start in range(0, len(jobs), batch):
        chunk = jobs[start : start + batch]
        params: list[Any] = []
        for job in chunk:
            params.append(pk.get_db_prep_value(job.pk, connection))
            params.append(field.get_db_prep_value(job.next_execution_at, connection))
        rows = ", ".join(["(%s, %s)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET next_execution_at = v.column2 "  # noqa: S608 - no input
                f"FROM (VALUES {rows}) AS v WHERE {table}.id = v.column1",
                params,
            )


def _occupied(
    jobs: list[BackupJob],
) -> tuple[dict[object, tuple[object, str]], set[tuple[object, datetime | None]]]:
    """In one query: the jobs with a queued or running backup (job id -> (execution id,
    status)), and the (job, slot) pairs that already have an execution. A restore does not
    hold back the job's backups."""
    slots = {job.next_execution_at for job in jobs}
    rows = BackupExecution.objects.filter(job_id__in=[job.id for job in jobs]).filter(
        Q(status__in=BUSY, kind=BackupExecution.Kind.BACKUP) | Q(scheduled_for__in=slots)
    )
    busy: dict[object, tuple[object, str]] = {}
    already: set[tuple[object, datetime | None]] = set()
    for job_id, execution_id, status, kind, scheduled_for in rows.values_list(
        "job_id", "id", "status", "kind", "scheduled_for"
    ):
        if status in BUSY and kind == BackupExecution.Kind.BACKUP:
            busy[job_id] = (execution_id, status)
        if scheduled_for is not None:
            already.add((job_id, scheduled_for))
    return busy, already


def _skipped(
    job: BackupJob, slot: datetime | None, blocker: tuple[object, str], now: datetime
) -> BackupExecution:
    """The record of a slot that did not run: a ``cancelled`` execution, visible in the job's
    history, saying why."""
    return build_backup_execution(
        job,
        BackupExecution.Trigger.SCHEDULED,
        scheduled_for=slot,
        status=Status.CANCELLED,
        created_at=now,
        finished_at=now,
        duration_seconds=0,
        error_message=SKIPPED_OVERLAP,
        metadata={"skipped": True, "blocked_by": str(blocker[0])},
    )


def reap(now: datetime | None = None) -> ReapResult:
    """Fail running executions whose worker stopped sending heartbeats, queue a retry of the
    backups among them that have attempts left, and re-send what has been queued without a
    sign of life for ``LOST_QUEUED_AFTER``: backups, restores, and the verifications marked
    queued on completed backups.

    What to send is returned in ``to_send`` and ``verifications``. A re-sent message is
    harmless if the original still exists: ``run_backup`` and ``run_restore`` claim with a
    conditional UPDATE, so the second message finds the execution no longer queued, and a
    verification message runs only while its token is the marker's ``queued_at`` (the
    re-sent one carries the new one).
    """
    now = now or timezone.now()
    with transaction.atomic():
        lost = list(
            BackupExecution.objects.select_for_update(skip_locked=True, of=("self",))
            .annotate(last_seen=Coalesce("heartbeat_at", "started_at", "created_at"))
            .filter(status=Status.RUNNING, last_seen__lt=now - STALE_RUNNING_AFTER)
            .select_related("job", "datasource", "storage_location")
        )
        retries: list[BackupExecution] = []
        given_up: list[BackupExecution] = []
        for execution in lost:
            _mark_lost(execution, now)
            if execution.kind == BackupExecution.Kind.BACKUP and (
                execution.attempt <= BACKUPS.max_retries
            ):
                retries.append(_retry_of(execution, now))
            else:
                given_up.append(execution)
        if lost:
            BackupExecution.objects.bulk_update(
                lost,
                [
                    "status",
                    "finished_at",
                    "duration_seconds",
                    "error_message",
                    "backup_path",
                    "log_tail",
                ],
            )
            BackupExecution.objects.bulk_create(retries)
        for gone in given_up:
            _tell_lost(gone)
        quiet = list(
            BackupExecution.objects.select_for_update(skip_locked=True)
            .annotate(last_sent=Coalesce("heartbeat_at", "created_at"))
            .filter(status=Status.QUEUED, last_sent__lt=now - LOST_QUEUED_AFTER)
            .only("id", "trigger", "kind")
        )
        if quiet:
            BackupExecution.objects.filter(pk__in=[e.pk for e in quiet]).update(heartbeat_at=now)
        verifications = _requeue_lost_verifications(now)
    to_send: list[tuple[BackupExecution, int | None]] = [(e, None) for e in quiet]
    # The same wait the worker's own retry would have used before this attempt.
    to_send += [(retry, BACKUPS.countdown(retry.attempt - 1)) for retry in retries]
    to_discard = [str(e.pk) for e in lost if e.owns_stored_files]
    result = ReapResult(
        len(lost), len(retries), len(quiet), to_send, len(verifications), verifications, to_discard
    )
    if lost or quiet or verifications:
        logger.warning("Reaper at %s: %s", now.isoformat(), result)
    return result


def _mark_lost(execution: BackupExecution, now: datetime) -> None:
    """running -> failed in memory; the caller writes all of them in one UPDATE while the
    rows are locked, so no worker can complete one in between."""
    seen = execution.heartbeat_at or execution.started_at or execution.created_at
    worker = f" on {execution.worker}" if execution.worker else ""
    execution.status = Status.FAILED
    execution.finished_at = now
    execution.duration_seconds = (
        int((now - execution.started_at).total_seconds()) if execution.started_at else None
    )
    execution.error_message = (
        f"worker lost: no heartbeat since {seen.isoformat(timespec='seconds')}{worker}"
    )
    # The dead worker could not remove its partial files: pointing at their directory lets
    # the reaper's caller delete them at once (and the pruning of old failed runs, should
    # that fail).
    if execution.kind == BackupExecution.Kind.BACKUP:
        execution.backup_path = artifact_directory(execution)
    with about(execution), collecting(execution, seed=execution.log_tail) as tail:
        logger.warning("Execution %s failed: %s", execution.id, execution.error_message)
    execution.log_tail = tail.text()


def _requeue_lost_verifications(now: datetime) -> list[tuple[BackupExecution, str]]:
    """The verifications to send again, their markers renewed to ``now`` in one UPDATE: those
    marked queued for longer than ``LOST_QUEUED_AFTER`` (a waiting verification renews its
    marker every ``CAP_RETRY_SECONDS``), and those marked running whose beat stopped for
    ``STALE_RUNNING_AFTER`` (their worker is gone) while they have tries left
    (``VERIFY_ATTEMPTS``). One lost on its last try is recorded as failed, and told."""
    from executions import verification

    active = (
        BackupExecution.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            kind=BackupExecution.Kind.BACKUP,
            status=Status.COMPLETED,
            metadata__verification__status__in=["queued", "running"],
        )
        .select_related("datasource", "job")
    )
    again = []
    token = now.isoformat()
    for backup in active:
        marker = backup.metadata["verification"]
        running = marker.get("status") == "running"
        since = parse_datetime(
            str(marker.get("beat_at") or marker.get("started_at") or "")
            if running
            else str(marker.get("queued_at") or "")
        )
        if since is not None and now - since <= (
            STALE_RUNNING_AFTER if running else LOST_QUEUED_AFTER
        ):
            continue
        attempt = int(marker.get("attempt") or (1 if running else 0))
        if running and attempt >= VERIFY_ATTEMPTS:
            verification.record_lost(backup, marker, now)
            continue
        renewed = {**marker, "queued_at": token}
        if running:
            renewed = {"status": "queued", "queued_at": token, "attempt": attempt}
            renewed["lost"] = f"{marker.get('worker') or 'a worker'} at {marker.get('beat_at')}"
            if "priority" in marker:
                renewed["priority"] = marker["priority"]
            logger.warning(
                "The verification of %s lost its worker (%s); sent again",
                backup.pk,
                renewed["lost"],
            )
        backup.metadata = {**backup.metadata, "verification": renewed}
        again.append(backup)
    if again:
        BackupExecution.objects.bulk_update(again, ["metadata"])
    return [(backup, token) for backup in again]


def _tell_lost(execution: BackupExecution) -> None:
    """A run lost with no retry left fails like any other: the operator is told (a backup
    also counts toward its job's failure streak)."""
    message = execution.error_message or "worker lost"
    if execution.kind == BackupExecution.Kind.BACKUP:
        alerts.backup_failed(execution, message)
        return
    alerts.restore_failed(execution, message)


def _retry_of(execution: BackupExecution, now: datetime) -> BackupExecution:
    """A new queued attempt of a lost backup. The failed row stays as the record of the lost
    attempt; the new one carries the attempt count so the retry budget is shared."""
    return build_backup_execution(
        execution.job,
        execution.trigger,
        backup_type=execution.backup_type,
        attempt=execution.attempt,
        created_at=now,
        heartbeat_at=now,
        metadata={"retry_of": str(execution.id)},
    )
