"""Alerts about a job's backups as a series: failure streaks and their end, stale jobs (the
dead-man switch) and anomalies (a backup far smaller than the ones before it).

Plain code (docs/ALERTS.md). ``executions.backup`` calls ``count_failure`` when a backup
fails for good and ``backup_completed`` when one completes; the periodic task
``executions.tasks.check_stale_backups`` calls ``check_stale_jobs``.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from core import system_settings
from executions.events import notify_execution
from executions.models import BackupExecution
from jobs.models import BackupJob
from jobs.schedule import stale_threshold
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify

logger = logging.getLogger(__name__)

#: How many of the job's completed backups before this one its median is taken over.
ANOMALY_WINDOW = 5
#: Fewer earlier completed backups than this (with the figure recorded) compare nothing.
ANOMALY_MIN_HISTORY = 3

_COMPLETED_BACKUPS = {
    "kind": BackupExecution.Kind.BACKUP,
    "status": BackupExecution.Status.COMPLETED,
}


# --- Failure streaks ----------------------------------------------------------------------


def count_failure(execution: BackupExecution) -> int:
    """Count a backup that failed for good: the job's ``failure_streak`` plus one, written
    with ``F()`` and read back in one transaction (the row stays locked in between, so two
    failures at once count 2 and 3, never 2 and 2)."""
    jobs = BackupJob.objects.filter(pk=execution.job_id)
    with transaction.atomic():
        jobs.update(failure_streak=F("failure_streak") + 1)
        streak: int = jobs.values_list("failure_streak", flat=True).get()
    execution.job.failure_streak = streak
    return streak


def in_a_row(streak: int) -> str:
    """`` (3rd failure in a row)`` for a streak above 1, nothing for the first failure."""
    return f" ({ordinal(streak)} failure in a row)" if streak > 1 else ""


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def backup_failed(execution: BackupExecution, message: str) -> int:
    """Count a backup that failed for good and raise its ``backup_failed`` (with the streak:
    delivery sends the first of a streak). Used by the run itself and by the reaper, for a
    run whose worker died. Returns the streak."""
    with transaction.atomic():
        streak = count_failure(execution)
        notify_execution(
            NotificationType.BACKUP_FAILED,
            Severity.CRITICAL,
            f"Backup of {execution.datasource.name} failed{in_a_row(streak)}",
            message,
            execution,
            failure_streak=streak,
        )
    return streak


def restore_failed(execution: BackupExecution, message: str) -> None:
    """Raise ``restore_failed`` for a restore that failed, run by itself or lost by the reaper."""
    notify_execution(
        NotificationType.RESTORE_FAILED,
        Severity.CRITICAL,
        f"Restore into {execution.datasource.name} failed",
        message,
        execution,
        backup_id=str(execution.source_execution_id),
    )


# --- After a completed backup -------------------------------------------------------------


def backup_completed(execution: BackupExecution) -> None:
    """What a completed backup ends and what it shows: the job's failure streak and its
    staleness end (one ``backup_recovered`` for both), and a size or row count far below the
    recent median raises ``backup_anomaly``."""
    _recover(execution)
    _check_anomaly(execution)


def _recover(execution: BackupExecution) -> None:
    jobs = BackupJob.objects.filter(pk=execution.job_id)
    with transaction.atomic():
        state = jobs.select_for_update().values("failure_streak", "stale_since").first()
        if state is None or (not state["failure_streak"] and state["stale_since"] is None):
            return
        jobs.update(failure_streak=0, stale_since=None)
        failures: int = state["failure_streak"]
        stale_since: datetime | None = state["stale_since"]
        ended: dict[str, str] = {}
        if failures:
            ended["failures"] = f"{failures} failure{'s' if failures > 1 else ''} in a row"
        if stale_since is not None:
            ended["stale"] = f"its stale spell (stale since {_when(stale_since)})"
        # "failures", "stale", or both at once: "failures_and_stale".
        metadata: dict[str, Any] = {"ended": "_and_".join(ended)}
        if failures:
            metadata["failures"] = failures
        if stale_since is not None:
            metadata["stale_since"] = stale_since.isoformat()
        job = execution.job
        job.failure_streak, job.stale_since = 0, None
        notify_execution(
            NotificationType.BACKUP_RECOVERED,
            Severity.INFO,
            f"Backup of {execution.datasource.name} recovered",
            f"Job {job.name} completed a backup, ending {' and '.join(ended.values())}.",
            execution,
            **metadata,
        )


@dataclass(frozen=True)
class Comparison:
    """A figure of a backup against the median of the same figure in the backups before it.
    ``drop_percent`` is how far below the median it is (negative: above it)."""

    value: int
    median: float
    drop_percent: float
    anomalous: bool


def compare_with_median(
    value: int | None, earlier: Sequence[int | None], threshold_percent: int
) -> Comparison | None:
    """``value`` against the median of ``earlier`` (the figures that were recorded); it is
    anomalous when it is more than ``threshold_percent`` below. None when there is nothing to
    compare: no value, fewer than ``ANOMALY_MIN_HISTORY`` earlier figures, or a median of 0."""
    known = [v for v in earlier if v is not None]
    if value is None or len(known) < ANOMALY_MIN_HISTORY:
        return None
    median = float(statistics.median(known))
    if median <= 0:
        return None
    drop = (median - value) / median * 100
    return Comparison(value, median, round(drop, 1), drop > threshold_percent)


def _check_anomaly(execution: BackupExecution) -> None:
    earlier = list(
        BackupExecution.objects.filter(
            job_id=execution.job_id, finished_at__lt=execution.finished_at, **_COMPLETED_BACKUPS
        )
        .exclude(pk=execution.pk)
        .order_by("-finished_at")
        .values_list("size_bytes", "metadata__rows_approximate")[:ANOMALY_WINDOW]
    )
    if len(earlier) < ANOMALY_MIN_HISTORY:
        return
    threshold = int(system_settings.get("alerts.anomaly_drop_percent"))
    rows = execution.metadata.get("rows_approximate")
    figures = {
        "size_bytes": compare_with_median(
            execution.size_bytes, [size for size, _ in earlier], threshold
        ),
        "rows_approximate": compare_with_median(
            rows if isinstance(rows, int) else None,
            [n if isinstance(n, int) else None for _, n in earlier],
            threshold,
        ),
    }
    dropped = [name for name, c in figures.items() if c is not None and c.anomalous]
    if not dropped:
        return
    described = "; ".join(
        f"{_FIGURE_NAMES[name]} {c.value:,} against a median of {c.median:,.0f} "
        f"({_change(c.drop_percent)})"
        for name, c in figures.items()
        if c is not None
    )
    notify_execution(
        NotificationType.BACKUP_ANOMALY,
        Severity.WARNING,
        f"Backup of {execution.datasource.name} is much smaller than usual",
        f"Job {execution.job.name}: {described}, compared with its last {len(earlier)} "
        f"completed backups. The threshold is a drop of more than {threshold} %.",
        execution,
        dropped=dropped,
        threshold_percent=threshold,
        compared_with=len(earlier),
        **{name: asdict(c) if c is not None else None for name, c in figures.items()},
    )


_FIGURE_NAMES = {"size_bytes": "size (bytes)", "rows_approximate": "rows (approximate)"}


def _change(drop_percent: float) -> str:
    if drop_percent >= 0:
        return f"{drop_percent:g} % below"
    return f"{-drop_percent:g} % above"


# --- Stale jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StaleJob:
    """A job ``check_stale_jobs`` found stale: its last completed backup's ``finished_at``
    (None: never) and the threshold it went past."""

    job: BackupJob
    last_success_at: datetime | None
    threshold: timedelta


def check_stale_jobs(now: datetime | None = None) -> list[StaleJob]:
    """Mark the enabled jobs whose last completed backup (or, never having had one, their
    creation) is older than their ``stale_threshold``, and raise one ``backup_stale`` each.

    A job already marked (``stale_since`` set) is skipped until a completed backup clears it
    (``backup_completed``), so each stale spell alerts once. One query reads the candidates
    with their last success; each newly stale job then costs one UPDATE and one notification.
    """
    now = now or timezone.now()
    last_success = (
        BackupExecution.objects.filter(job=OuterRef("pk"), **_COMPLETED_BACKUPS)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    candidates = (
        BackupJob.objects.filter(enabled=True, stale_since__isnull=True)
        .select_related("datasource")
        .only(
            "id",
            "name",
            "enabled",
            "schedule_cron",
            "schedule_timezone",
            "stale_after_minutes",
            "created_at",
            "datasource__id",
            "datasource__name",
            "datasource__tags",
        )
        .annotate(last_success_at=Subquery(last_success))
        .order_by("name")
    )
    found: list[StaleJob] = []
    for job in candidates:
        try:
            threshold = stale_threshold(job, now)
        except ValueError:  # a schedule that never runs (validation keeps these out)
            logger.warning("Job %s has a schedule that never runs; not checking it", job.pk)
            continue
        last: datetime | None = job.last_success_at
        if now - (last or job.created_at) <= threshold:
            continue
        if _mark_stale(job, now, threshold):
            _notify_stale(job, last, threshold)
            found.append(StaleJob(job, last, threshold))
    return found


def _mark_stale(job: BackupJob, now: datetime, threshold: timedelta) -> bool:
    """Set ``stale_since``, unless another check did, or a backup completed meanwhile."""
    recent = BackupExecution.objects.filter(
        job=OuterRef("pk"), finished_at__gt=now - threshold, **_COMPLETED_BACKUPS
    )
    marked = (
        BackupJob.objects.filter(pk=job.pk, enabled=True, stale_since__isnull=True)
        .exclude(Exists(recent))
        .update(stale_since=now)
    )
    job.stale_since = now
    return marked == 1


def _notify_stale(job: BackupJob, last: datetime | None, threshold: timedelta) -> None:
    datasource = job.datasource
    rule = (
        "the job's stale_after_minutes"
        if job.stale_after_minutes
        else "twice the interval of its schedule"
    )
    created = "" if last else f" The job was created {_when(job.created_at)}."
    notify(
        NotificationType.BACKUP_STALE,
        Severity.CRITICAL,
        f"No recent backup of {datasource.name} (job {job.name})",
        f"Job {job.name} backs up {datasource.name}. Last successful backup: "
        f"{_when(last) if last else 'never'}; the threshold is {describe_duration(threshold)} "
        f"({rule}).{created}",
        entity_type=EntityType.BACKUP_JOB,
        entity_id=job.pk,
        metadata={
            "job_id": str(job.pk),
            "datasource": datasource.reference(),
            "last_success_at": last.isoformat() if last else None,
            "threshold_minutes": int(threshold.total_seconds() // 60),
        },
    )


def describe_duration(span: timedelta) -> str:
    """``2 days``, ``50 hours``, ``90 minutes``: the largest unit that divides it."""
    minutes = int(span.total_seconds() // 60)
    size, unit = next(
        (s, u) for s, u in ((1440, "day"), (60, "hour"), (1, "minute")) if minutes % s == 0
    )
    count = minutes // size
    return f"{count} {unit}{'s' if count != 1 else ''}"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M %Z")
