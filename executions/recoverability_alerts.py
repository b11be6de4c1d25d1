"""Warnings about a job's recoverability: its newest backup unverified for longer than its
restore-test window (``verification_overdue``), no completed backup within its RPO target
(``rpo_target_missed``), a measured restore slower than its RTO target
(``rto_target_missed``). docs/ALERTS.md.

Each is raised once per episode, like ``backup_stale``: a conditional UPDATE sets the job's
``*_since`` field, and only the check whose UPDATE touched the row notifies; the field is
cleared (without a notification) once the condition ends. The periodic task
``executions.tasks.check_recoverability`` runs ``check_recoverability`` every 5 minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from core import system_settings
from executions import recoverability
from executions.alerts import _when, describe_duration
from executions.recoverability import Recoverability
from jobs.models import BackupJob
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify


@dataclass(frozen=True)
class Watch:
    """One kind of warning: the job field marking its episode, whether it holds now, and the
    notification it raises."""

    field: str
    type: NotificationType
    holds: Callable[[Recoverability], bool]
    describe: Callable[[Recoverability], tuple[str, str, dict[str, object]]]


@dataclass(frozen=True)
class Raised:
    job: BackupJob
    type: str


def _overdue(r: Recoverability) -> tuple[str, str, dict[str, object]]:
    job, window = r.job, r.window
    assert window is not None
    reference = recoverability.overdue_reference(job)
    verified = recoverability.newest_verified_at(job)
    since = (
        f"last verified {_when(verified)}"
        if verified
        else f"completed {_when(job.last_completed_at)} and never verified"
        if job.last_completed_at
        else "never verified"
    )
    return (
        f"Verification overdue for job {job.name}",
        f"The newest backup of job {job.name} was {since}; its restore-test window is "
        f"{describe_duration(window)}.",
        {
            "job_id": str(job.pk),
            "backup_id": str(job.last_completed_id),
            "since": reference.isoformat() if reference else None,
            "window_days": window.days,
        },
    )


def _rpo(r: Recoverability) -> tuple[str, str, dict[str, object]]:
    job = r.job
    last = job.last_completed_at
    return (
        f"RPO target missed for job {job.name}",
        f"Job {job.name} has no completed backup within its RPO target of "
        f"{job.rpo_target_minutes} minutes; last completed backup: "
        f"{_when(last) if last else 'never'}.",
        {
            "job_id": str(job.pk),
            "rpo_target_minutes": job.rpo_target_minutes,
            "rpo_seconds": r.rpo_seconds,
            "last_completed_at": last.isoformat() if last else None,
        },
    )


def _rto(r: Recoverability) -> tuple[str, str, dict[str, object]]:
    job = r.job
    return (
        f"RTO target missed for job {job.name}",
        f"The last measured restore of job {job.name} took {job.last_restore_seconds:g} s "
        f"({job.last_restore_bytes or 0:,} bytes); its RTO target is "
        f"{job.rto_target_minutes} minutes.",
        {
            "job_id": str(job.pk),
            "rto_target_minutes": job.rto_target_minutes,
            "rto_seconds": job.last_restore_seconds,
            "rto_bytes": job.last_restore_bytes,
        },
    )


WARNINGS = (
    Watch(
        "verification_overdue_since",
        NotificationType.VERIFICATION_OVERDUE,
        lambda r: r.verification_overdue,
        _overdue,
    ),
    Watch(
        "rpo_missed_since", NotificationType.RPO_TARGET_MISSED, lambda r: r.rpo_target_missed, _rpo
    ),
    Watch(
        "rto_missed_since", NotificationType.RTO_TARGET_MISSED, lambda r: r.rto_target_missed, _rto
    ),
)


def check_recoverability(now: datetime | None = None) -> list[Raised]:
    """Raise each warning that started since the last check and clear those that ended.
    One query reads the jobs; each change costs one UPDATE (and a notification when raised)."""
    now = now or timezone.now()
    days = int(system_settings.get("verification.restore_test_every_days"))
    raised: list[Raised] = []
    jobs = BackupJob.objects.only(*recoverability.FIELDS).order_by("name")
    for job in jobs:
        state = recoverability.of(job, now, days)
        for warning in WARNINGS:
            marked = getattr(job, warning.field) is not None
            holds = warning.holds(state)
            if holds and not marked and _set(job, warning.field, now):
                title, message, metadata = warning.describe(state)
                notify(
                    warning.type,
                    Severity.WARNING,
                    title,
                    message,
                    entity_type=EntityType.BACKUP_JOB,
                    entity_id=job.pk,
                    metadata=metadata,
                )
                raised.append(Raised(job, warning.type))
            elif marked and not holds:
                _set(job, warning.field, None)
    return raised


def _set(job: BackupJob, field: str, value: datetime | None) -> bool:
    """Set or clear one episode field, only if another check did not first."""
    rows = BackupJob.objects.filter(pk=job.pk, **{f"{field}__isnull": value is not None})
    changed = rows.update(**{field: value}) == 1
    setattr(job, field, value)
    return changed
