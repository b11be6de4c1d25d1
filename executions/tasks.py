"""Celery tasks of executions, and the only module of executions that knows Celery.

Thin: the tasks claim work and call plain, testable code, which returns what should be sent
next (``TickResult.to_send``, ``verification_due``); the senders below put it on the queues
once the transaction that created it has committed, passing ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import system_settings
from core.queues import (
    BACKUPS,
    CLEANUP,
    PRIORITY_LOWEST,
    PRIORITY_MANUAL,
    PRIORITY_SCHEDULED,
    SCHEDULER,
)
from executions import (
    alerts,
    cleanup,
    recoverability_alerts,
    restore_tests,
    scheduler,
    tally,
    verification,
)
from executions.backup import RetryableBackupError, perform_backup, verification_due
from executions.models import BackupExecution, IllegalTransition
from executions.restore import perform_restore
from executions.runlog import about as _about
from executions.services import priority_of

logger = logging.getLogger(__name__)

# How long a backup waits before asking again for a slot under system.max_concurrent_backups.
CAP_RETRY_SECONDS = 30
# pg_advisory_xact_lock key that serialises "count running backups, then claim" across workers.
CAP_LOCK_KEY = 0x44474341  # "DGCA"
# The same for verifications under system.max_concurrent_verifications.
VERIFY_LOCK_KEY = 0x44475643  # "DGVC"


@shared_task(
    bind=True,
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def run_backup(self: Any, execution_id: str) -> None:
    """Claim a queued backup execution and run it. Transient failures are retried with the
    backups queue's policy; anything else fails the execution once."""
    execution = (
        BackupExecution.objects.select_related("job", "datasource", "storage_location")
        .filter(pk=execution_id)
        .first()
    )
    if execution is None:
        logger.warning("Execution %s does not exist; dropping its message", execution_id)
        return
    with _about(execution):
        try:
            claimed = claim_within_cap(execution, worker=self.request.hostname or "")
        except IllegalTransition:
            logger.info("Execution %s is %s; not running it", execution_id, execution.status)
            return
        if not claimed:
            # A fresh message rather than self.retry(): waiting for a slot is not a failure and
            # must not use up the retries kept for transient errors.
            logger.info("Execution %s waits: the concurrent backup limit is reached", execution_id)
            enqueue_backups([execution], countdown=CAP_RETRY_SECONDS)
            return
        # ``attempt`` counts claims across messages (the reaper's retries start a new message),
        # so it bounds retries together with Celery's own counter.
        retry_allowed = (
            self.request.retries < BACKUPS.max_retries and execution.attempt <= BACKUPS.max_retries
        )
        try:
            back_up(execution, retry_allowed=retry_allowed)
        except RetryableBackupError as exc:
            countdown = BACKUPS.countdown(self.request.retries)
            # The retry message is alive; the reaper must not send a second one while it waits.
            queued = BackupExecution.objects.filter(
                pk=execution.pk, status=BackupExecution.Status.QUEUED
            )
            queued.update(heartbeat_at=timezone.now())
            raise self.retry(exc=exc, countdown=countdown) from exc


def claim_within_cap(execution: BackupExecution, worker: str) -> bool:
    """Claim ``execution`` unless ``system.max_concurrent_backups`` backups already run.

    On PostgreSQL an advisory lock held to the end of the transaction makes "count, then claim"
    atomic across workers; SQLite (the embedded mode) has one writer at a time anyway. When
    the limit is reached the execution stays queued, its ``heartbeat_at`` refreshed so the
    reaper knows its message is alive, and False is returned.
    """
    limit = int(system_settings.get("system.max_concurrent_backups"))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CAP_LOCK_KEY])
        running = BackupExecution.objects.filter(
            kind=BackupExecution.Kind.BACKUP, status=BackupExecution.Status.RUNNING
        ).count()
        if running >= limit:
            BackupExecution.objects.filter(
                pk=execution.pk, status=BackupExecution.Status.QUEUED
            ).update(heartbeat_at=timezone.now())
            return False
        execution.claim(worker=worker)
    return True


@shared_task(
    bind=True,
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def run_restore(self: Any, execution_id: str) -> None:
    """Claim a queued restore execution and run it. Never retried automatically: a restore
    that failed part way may already have written to its target, so running it again is a
    person's decision."""
    execution = BackupExecution.objects.select_related(
        "job", "datasource", "storage_location", "source_execution__datasource"
    ).get(pk=execution_id, kind=BackupExecution.Kind.RESTORE)
    with _about(execution):
        try:
            execution.claim(worker=self.request.hostname or "")
        except IllegalTransition:
            logger.info("Restore %s is %s; not running it", execution_id, execution.status)
            return
        perform_restore(execution)


@shared_task(
    bind=True,
    time_limit=settings.BACKUP_TIME_LIMIT,
    soft_time_limit=settings.BACKUP_TIME_LIMIT - 60,
    **BACKUPS.task_options(),
)
def verify_backup(self: Any, execution_id: str, queued_at: str | None = None) -> None:
    """Restore a completed backup into a scratch target and check it (see
    ``executions.verification``). The outcome is recorded on the backup, not raised. With
    ``system.max_concurrent_verifications`` running already it waits, sent again later.

    ``queued_at`` is the message's token: the ``queued_at`` of the marker it was sent for. A
    message whose token is no longer the marker's was superseded (re-sent by the reaper, or
    already run) and does nothing, so a verification runs once however many of its messages
    arrive."""
    backup = (
        BackupExecution.objects.select_related("job", "datasource", "storage_location")
        .filter(pk=execution_id, kind=BackupExecution.Kind.BACKUP)
        .first()
    )
    if backup is None:
        logger.warning("Backup %s does not exist; not verifying it", execution_id)
        return
    with _about(backup):
        if not verification.can_verify(backup):
            logger.info("Backup %s is %s; not verifying it", execution_id, backup.status)
            return
        marker = backup.metadata.get("verification") or {}
        if queued_at is not None and (
            marker.get("status") != "queued" or marker.get("queued_at") != queued_at
        ):
            logger.info("Backup %s: this verification message was superseded", execution_id)
            return
        if not claim_verification_slot(backup, worker=self.request.hostname or ""):
            logger.info("Backup %s waits: the concurrent verification limit is reached", backup.pk)
            # The renewed marker tells the reaper this verification is still waiting.
            priority = int(marker.get("priority", PRIORITY_LOWEST))
            renewed = verification.mark_queued(backup, priority=priority)
            verify_backup.apply_async(
                args=[execution_id, renewed["queued_at"]],
                priority=priority,
                countdown=CAP_RETRY_SECONDS,
            )
            return
        try:
            with verification.beating(backup):
                verification.verify_backup(backup)
        except verification.VerificationRefused as exc:
            logger.info("Backup %s not verified: %s", execution_id, exc)


def claim_verification_slot(backup: BackupExecution, worker: str) -> bool:
    """Mark ``backup``'s verification running unless ``system.max_concurrent_verifications``
    run already (``restore_tests.running_count``: a marker older than the backup time limit
    holds no slot). Atomic across workers like ``claim_within_cap``."""
    limit = int(system_settings.get("system.max_concurrent_verifications"))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [VERIFY_LOCK_KEY])
        if restore_tests.running_count(timezone.now(), exclude=backup.pk) >= limit:
            return False
        verification.mark_running(backup, worker)
    return True


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def enqueue_due_jobs() -> None:
    """Queue the executions of due jobs (every minute, from beat)."""
    tick()


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def reap() -> None:
    """Fail executions whose worker is gone and re-send lost messages (every minute)."""
    reap_and_resend()


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def check_stale_backups() -> None:
    """Raise ``backup_stale`` for jobs without a recent completed backup (every 5 minutes)."""
    stale = alerts.check_stale_jobs()
    if stale:
        logger.warning(
            "%d job(s) became stale: %s", len(stale), ", ".join(s.job.name for s in stale)
        )


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def run_restore_tests() -> None:
    """Send the scheduled restore tests that are due, within the free slots (every 10
    minutes)."""
    sent = send_restore_tests()
    if sent:
        logger.info("Sent %d scheduled restore test(s)", len(sent))


@shared_task(time_limit=55, soft_time_limit=50, **SCHEDULER.task_options())
def check_recoverability() -> None:
    """Raise verification_overdue, rpo_target_missed and rto_target_missed as they start
    (every 5 minutes)."""
    raised = recoverability_alerts.check_recoverability()
    if raised:
        logger.warning(
            "%d recoverability warning(s): %s",
            len(raised),
            ", ".join(f"{r.type} for {r.job.name}" for r in raised),
        )


@shared_task(**CLEANUP.task_options())
def discard_lost_runs(execution_ids: list[str]) -> None:
    """Delete the partial files of backups the reaper found lost with their worker (sent by
    the reaper, on the cleanup queue: deleting a large run can take longer than a tick)."""
    for error in cleanup.discard_lost_runs(execution_ids):
        logger.warning("%s; the pruning of old failed runs tries again", error)


@shared_task(**CLEANUP.task_options())
def run_cleanup() -> None:
    """Apply every job's retention policy and prune old failed runs (daily, 04:00), then fold
    the executions' tally (which a ``/metrics`` scrape folds too, when there is one)."""
    cleanup.run_cleanup()
    tally.compact()


# --- Running and sending: the plain code's results put on the queues ------------------------


def back_up(execution: BackupExecution, *, retry_allowed: bool = False) -> bool:
    """Run a claimed backup (``perform_backup``) and send its verification when the job asks
    for one. The worker and ``manage.py backup`` both run backups through this."""
    completed = perform_backup(execution, retry_allowed=retry_allowed)
    if completed and verification_due(execution):
        enqueue_verification(execution)
    return completed


def send_restore_tests(now: datetime | None = None) -> list[BackupExecution]:
    """One restore-test pass: the due backups (``restore_tests.due_backups``), no more than
    the free slots, each marked queued and sent at the lowest priority."""
    now = now or timezone.now()
    sent = restore_tests.due_backups(now)[: restore_tests.free_slots(now)]
    for backup in sent:
        enqueue_verification(backup, priority=PRIORITY_LOWEST, at=now)
    return sent


def tick(now: datetime | None = None) -> scheduler.TickResult:
    """One scheduler tick, its new executions sent once it has committed."""
    result = scheduler.enqueue_due_jobs(now)
    enqueue_backups(result.to_send)
    return result


def reap_and_resend(now: datetime | None = None) -> scheduler.ReapResult:
    """One reaper pass, the executions it re-queued sent with their delays (backups and
    restores each to their task) and the lost verifications sent again with their new
    tokens."""
    result = scheduler.reap(now)
    for execution, countdown in result.to_send:
        if execution.kind == BackupExecution.Kind.RESTORE:
            enqueue_restore(execution)
        else:
            enqueue_backups([execution], countdown=countdown)
    for backup, token in result.verifications:
        priority = int(backup.metadata["verification"].get("priority", PRIORITY_SCHEDULED))
        _send_verification(str(backup.pk), token, priority)
    if result.to_discard:
        ids = result.to_discard
        transaction.on_commit(lambda: discard_lost_runs.delay(ids))
    return result


def send_backups(executions: Iterable[BackupExecution], countdown: int | None = None) -> None:
    """Send ``run_backup`` for each execution now (callers decide when "now" is safe)."""
    for execution in executions:
        run_backup.apply_async(
            args=[str(execution.id)], priority=priority_of(execution), countdown=countdown
        )


def enqueue_backups(executions: Iterable[BackupExecution], countdown: int | None = None) -> None:
    """Send the executions to the backups queue once the current transaction commits, so a
    worker never receives the id of a row it cannot see yet (one callback for all of them)."""
    pending = list(executions)
    if pending:
        transaction.on_commit(lambda: send_backups(pending, countdown))


def enqueue_backup(execution: BackupExecution) -> None:
    """Send one execution to the backups queue once the current transaction commits."""
    enqueue_backups([execution])


def enqueue_restore(execution: BackupExecution) -> None:
    """Send a restore execution to the backups queue, at manual priority: somebody asked for
    it and is waiting."""
    execution_id = str(execution.id)
    transaction.on_commit(
        lambda: run_restore.apply_async(args=[execution_id], priority=PRIORITY_MANUAL)
    )


def enqueue_verification(
    backup: BackupExecution, priority: int = PRIORITY_SCHEDULED, at: datetime | None = None
) -> None:
    """Mark the verification of a completed backup queued (at ``at``, else now) and send it to
    the backups queue once the current transaction commits, with the marker's token."""
    marker = verification.mark_queued(backup, at, priority=priority)
    _send_verification(str(backup.id), marker["queued_at"], priority)


def _send_verification(backup_id: str, token: str, priority: int) -> None:
    transaction.on_commit(
        lambda: verify_backup.apply_async(args=[backup_id, token], priority=priority)
    )
