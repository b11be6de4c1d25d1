"""Scheduled restore tests: which jobs' newest backups are due for a verification, and how
many verifications may run at once (docs/VERIFICATION.md, "Scheduled restore tests").

Each job with a restore-test window W (``recoverability.restore_test_window``) has slots a
period P apart, P being W less an hour (``SLACK``), with a fixed phase inside P derived from
its id: ``EPOCH + phase + k·P``. The jobs so spread over the window instead of all starting
at one hour, and a pass that runs late still lands before the newest backup is overdue.

A job is due once its latest slot has passed and it has had no verification since (a backup
that completes between two slots waits for the next one); a job whose newest backup is
overdue and was never tried is due at once. Plain code: ``executions.tasks.run_restore_tests``
sends what ``due_backups`` returns, no more than ``free_slots`` per pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import system_settings
from executions import recoverability
from executions.models import BackupExecution
from jobs.models import BackupJob

#: Where every job's slots are counted from.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
#: How much shorter than the window the slots' period is: the time a pass may run late (a
#: busy queue, a slow restore) and still pass before the newest backup becomes overdue.
SLACK = timedelta(hours=1)


def period(window: timedelta) -> timedelta:
    """The time between a job's slots: ``window`` less ``SLACK`` (a tenth of a short one)."""
    return window - min(SLACK, window / 10)


def phase(job: BackupJob, window: timedelta) -> timedelta:
    """The job's fixed offset inside its period: its id (a UUID) modulo the period's seconds."""
    return timedelta(seconds=job.pk.int % max(int(period(window).total_seconds()), 1))


def latest_slot(job: BackupJob, window: timedelta, now: datetime) -> datetime:
    """The job's latest restore-test slot at or before ``now``."""
    every = period(window)
    start = EPOCH + phase(job, window)
    return start + ((now - start) // every) * every


def active_verifications(now: datetime) -> dict[Any, dict[str, Any]]:
    """The backups whose verification is queued or running, by id, with their markers. A
    marker older than the backup time limit is left out: the worker that held it is gone."""
    limit = timedelta(seconds=settings.BACKUP_TIME_LIMIT)
    rows = BackupExecution.objects.filter(
        kind=BackupExecution.Kind.BACKUP,
        metadata__verification__status__in=["queued", "running"],
    ).values_list("id", "metadata__verification")
    active = {}
    for pk, marker in rows:
        if not isinstance(marker, dict):
            continue
        since = parse_datetime(str(marker.get("started_at") or marker.get("queued_at") or ""))
        if since is not None and now - since < limit:
            active[pk] = marker
    return active


def running_count(now: datetime, exclude: Any = None) -> int:
    """How many verifications are running now (``exclude``: a backup not to count)."""
    return sum(
        1
        for pk, marker in active_verifications(now).items()
        if marker.get("status") == "running" and pk != exclude
    )


def free_slots(now: datetime) -> int:
    """How many more verifications the scheduler may send: the limit
    (``system.max_concurrent_verifications``) less those queued or running."""
    limit = int(system_settings.get("system.max_concurrent_verifications"))
    return max(limit - len(active_verifications(now)), 0)


def due_backups(now: datetime | None = None) -> list[BackupExecution]:
    """The newest completed backups of the enabled jobs that are due for a restore test,
    the one that has waited longest first. Four queries however many jobs there are."""
    now = now or timezone.now()
    days = int(system_settings.get("verification.restore_test_every_days"))
    busy = active_verifications(now)
    jobs = BackupJob.objects.filter(enabled=True, last_completed_id__isnull=False).only(
        *recoverability.FIELDS
    )
    waiting: list[tuple[datetime, Any]] = []
    for job in jobs:
        window = recoverability.restore_test_window(job, days)
        if window is None or job.last_completed_id in busy:
            continue
        slot = latest_slot(job, window, now)
        tested = job.last_verification_at is not None and job.last_verification_at >= slot
        never_tried = job.last_verification_backup_id != job.last_completed_id
        overdue = recoverability.is_overdue(job, window, now) and never_tried
        if not tested or overdue:
            reference = recoverability.overdue_reference(job)
            waiting.append((min(slot, reference) if reference else slot, job.last_completed_id))
    if not waiting:
        return []
    backups = BackupExecution.objects.select_related("job", "datasource").in_bulk(
        [pk for _, pk in waiting]
    )
    return [
        backups[pk]
        for _, pk in sorted(waiting, key=lambda item: item[0])
        if pk in backups and backups[pk].status == BackupExecution.Status.COMPLETED
    ]
