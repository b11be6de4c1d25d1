"""What an operator would lose and how long getting it back takes, per job (RPO and RTO).

The runs keep the job's record up to date as they finish: ``BackupExecution._finish`` the
last attempt and the last completed backup, ``record_verification`` the verifications. This
module reads that record, so a report over every job costs one query however many
executions there are (docs/OBSERVABILITY.md).

- **RPO now**: the time since the newest completed backup (``rpo_seconds``) and, separately,
  since the newest backup whose verification passed (``verified_rpo_seconds``).
- **Expected RPO**: the schedule's interval, read from now.
- **RTO**: the restore time the last verification measured, with the size it restored.
- **Restore-test window**: how often the newest backup must be verified (the job's
  ``restore_test_every_days``, else ``verification.restore_test_every_days``; 0 is off). A job
  whose newest backup has gone unverified for longer is *overdue*.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from executions.models import BackupExecution
from jobs.models import BackupJob
from jobs.schedule import interval

#: The job fields the report reads (``BackupJob.objects.only(*FIELDS)``).
FIELDS = (
    "id",
    "name",
    "enabled",
    "schedule_cron",
    "schedule_timezone",
    "created_at",
    "datasource_id",
    "rpo_target_minutes",
    "rto_target_minutes",
    "restore_test_every_days",
    "last_attempt_at",
    "last_attempt_status",
    "last_completed_at",
    "last_completed_id",
    "last_completed_seconds",
    "last_completed_bytes",
    "failure_streak",
    "verified_backup_id",
    "verified_backup_at",
    "verified_at",
    "last_verification_at",
    "last_verification_status",
    "last_verification_backup_id",
    "last_restore_seconds",
    "last_restore_bytes",
    "verification_overdue_since",
    "rpo_missed_since",
    "rto_missed_since",
)


class JobRecord(Protocol):
    """What the recoverability of a job is computed from: a ``BackupJob`` read with
    ``only(*FIELDS)``, or a lighter row with the same attributes (the metrics read the jobs as
    plain rows)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def rpo_target_minutes(self) -> int | None: ...
    @property
    def rto_target_minutes(self) -> int | None: ...
    @property
    def restore_test_every_days(self) -> int | None: ...
    @property
    def last_completed_at(self) -> datetime | None: ...
    @property
    def last_completed_id(self) -> Any: ...
    @property
    def verified_backup_id(self) -> Any: ...
    @property
    def verified_backup_at(self) -> datetime | None: ...
    @property
    def verified_at(self) -> datetime | None: ...
    @property
    def last_restore_seconds(self) -> float | None: ...


def restore_test_window(job: JobRecord, default_days: int) -> timedelta | None:
    """How often ``job``'s newest backup must be verified; None when restore tests are off
    for it (``default_days`` is ``verification.restore_test_every_days``)."""
    days = job.restore_test_every_days if job.restore_test_every_days is not None else default_days
    return timedelta(days=days) if days else None


def newest_verified_at(job: JobRecord) -> datetime | None:
    """When the job's newest completed backup last passed a verification, else None."""
    if job.last_completed_id is not None and job.verified_backup_id == job.last_completed_id:
        return job.verified_at
    return None


def overdue_reference(job: JobRecord) -> datetime | None:
    """The time a restore-test window runs from: the newest completed backup's last passed
    verification, or its completion when it has none; None for a job with no backup."""
    if job.last_completed_at is None:
        return None
    return newest_verified_at(job) or job.last_completed_at


def is_overdue(job: JobRecord, window: timedelta | None, now: datetime) -> bool:
    reference = overdue_reference(job)
    return window is not None and reference is not None and now - reference > window


def verification_overdue(job: JobRecord, window: timedelta | None, now: datetime) -> bool:
    """Whether ``job`` is enabled and its newest backup went unverified past ``window``."""
    return job.enabled and is_overdue(job, window, now)


def rpo_target_missed(job: JobRecord, now: datetime) -> bool:
    """Whether an enabled ``job`` has gone without a completed backup (since it was created,
    when it has none) for longer than its RPO target."""
    target = job.rpo_target_minutes
    if not target or not job.enabled:
        return False
    since = job.last_completed_at or job.created_at
    return (now - since).total_seconds() > target * 60


def rto_target_missed(job: JobRecord) -> bool:
    """Whether ``job``'s last measured restore took longer than its RTO target."""
    target, measured = job.rto_target_minutes, job.last_restore_seconds
    return target is not None and measured is not None and measured > target * 60


@dataclass(frozen=True)
class Recoverability:
    """One job's recoverability at ``now`` (every duration in seconds)."""

    job: BackupJob
    now: datetime
    window: timedelta | None
    expected_rpo_seconds: float | None

    @property
    def rpo_seconds(self) -> float | None:
        return _age(self.job.last_completed_at, self.now)

    @property
    def verified_rpo_seconds(self) -> float | None:
        return _age(self.job.verified_backup_at, self.now)

    @property
    def rto_seconds(self) -> float | None:
        return self.job.last_restore_seconds

    @property
    def rpo_target_missed(self) -> bool:
        return rpo_target_missed(self.job, self.now)

    @property
    def rto_target_missed(self) -> bool:
        return rto_target_missed(self.job)

    @property
    def verification_overdue(self) -> bool:
        return verification_overdue(self.job, self.window, self.now)

    def as_dict(self) -> dict[str, Any]:
        job = self.job
        return {
            "rpo_seconds": _round(self.rpo_seconds),
            "verified_rpo_seconds": _round(self.verified_rpo_seconds),
            "expected_rpo_seconds": _round(self.expected_rpo_seconds),
            "rto_seconds": job.last_restore_seconds,
            "rto_bytes": job.last_restore_bytes,
            "rpo_target_minutes": job.rpo_target_minutes,
            "rto_target_minutes": job.rto_target_minutes,
            "rpo_target_missed": self.rpo_target_missed,
            "rto_target_missed": self.rto_target_missed,
            "last_completed_at": _iso(job.last_completed_at),
            "last_verified_backup_at": _iso(job.verified_backup_at),
            "last_verification_at": _iso(job.last_verification_at),
            "last_verification_status": job.last_verification_status or None,
            "restore_test_every_days": self.window.days if self.window else 0,
            "verification_overdue": self.verification_overdue,
        }


def of(
    job: BackupJob, now: datetime | None = None, default_days: int | None = None
) -> Recoverability:
    """``job``'s recoverability at ``now``. ``default_days`` is the system setting (read when
    not given: pass it when reporting many jobs)."""
    now = now or timezone.now()
    if default_days is None:
        from core import system_settings

        default_days = int(system_settings.get("verification.restore_test_every_days"))
    expected = expected_rpo_seconds(job.schedule_cron, job.schedule_timezone, now)
    return Recoverability(job, now, restore_test_window(job, default_days), expected)


def expected_rpo_seconds(cron: str, tz: str, now: datetime) -> float | None:
    """The schedule's interval read from ``now`` (``jobs.schedule.interval``), in seconds;
    None for a schedule that never runs. Jobs mostly share a few schedules: each (schedule,
    hour) is computed once, so a report over thousands of jobs walks few crons."""
    return _interval_at_hour(cron, tz, now.replace(minute=0, second=0, microsecond=0))


@functools.lru_cache(maxsize=4096)
def _interval_at_hour(cron: str, tz: str, hour: datetime) -> float | None:
    try:
        return interval(cron, tz, hour).total_seconds()
    except ValueError:  # a schedule that never runs (validation keeps these out)
        return None


def report(now: datetime | None = None) -> list[Recoverability]:
    """Every job's recoverability, by name: one query for the jobs, one for the setting."""
    from core import system_settings

    now = now or timezone.now()
    days = int(system_settings.get("verification.restore_test_every_days"))
    jobs = BackupJob.objects.only(*FIELDS).order_by("name")
    return [of(job, now, days) for job in jobs]


# --- Recording verifications ----------------------------------------------------------------


def record_verification(backup: BackupExecution, verification: dict[str, Any]) -> None:
    """Keep the job's record of a finished verification of ``backup``: the latest
    verification, the newest backup that passed one, and the restore time it measured."""
    status = verification.get("status")
    if status not in ("passed", "failed"):
        return
    at = parse_datetime(str(verification.get("verified_at") or "")) or timezone.now()
    jobs = BackupJob.objects.filter(pk=backup.job_id)
    jobs.filter(Q(last_verification_at__isnull=True) | Q(last_verification_at__lte=at)).update(
        last_verification_at=at,
        last_verification_status=status,
        last_verification_backup_id=backup.pk,
    )
    seconds = verification.get("restore_seconds")
    if seconds is not None:
        jobs.update(
            last_restore_seconds=float(seconds),
            last_restore_bytes=backup.size_bytes or backup.compressed_size_bytes,
        )
    if status == "passed" and backup.finished_at is not None:
        jobs.filter(
            Q(verified_backup_at__isnull=True) | Q(verified_backup_at__lte=backup.finished_at)
        ).update(
            verified_backup_id=backup.pk, verified_backup_at=backup.finished_at, verified_at=at
        )
    elif status == "failed" and jobs.filter(verified_backup_id=backup.pk).exists():
        # The backup that counted as the newest verified one failed now: the newest of the
        # job's other backups whose last verification passed takes its place.
        _recount_verified(backup.job_id)


def _recount_verified(job_id: Any) -> None:
    passed = (
        BackupExecution.objects.filter(
            job_id=job_id,
            kind=BackupExecution.Kind.BACKUP,
            status=BackupExecution.Status.COMPLETED,
            metadata__verification__status="passed",
        )
        .order_by("-finished_at")
        .only("id", "finished_at", "metadata")
        .first()
    )
    at = (
        parse_datetime(str(passed.metadata["verification"].get("verified_at") or ""))
        if passed
        else None
    )
    BackupJob.objects.filter(pk=job_id).update(
        verified_backup_id=passed.pk if passed else None,
        verified_backup_at=passed.finished_at if passed else None,
        verified_at=at,
    )


def _age(moment: datetime | None, now: datetime) -> float | None:
    return (now - moment).total_seconds() if moment is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
