"""The dashboard's recoverability panel: how many jobs miss their RPO or RTO target, are
overdue for a restore test or were never verified, and the worst of them
(``executions.recoverability``, docs/OBSERVABILITY.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.display import human_duration, human_size
from executions import recoverability
from executions.dashboard.links import change

#: How many jobs the panel lists.
LIST_LIMIT = 10


@dataclass(frozen=True)
class RecoverabilityRow:
    """One job in trouble: what a restore now would lose and how long it would take."""

    name: str
    url: str
    rpo: str
    rto: str
    trouble: str


@dataclass(frozen=True)
class RecoverabilityPanel:
    jobs: int
    rpo_target_missed: int
    rto_target_missed: int
    verification_overdue: int
    never_verified: int
    worst: list[RecoverabilityRow]


def recoverability_panel(now: datetime) -> RecoverabilityPanel:
    """The counts over the enabled jobs, and the ``LIST_LIMIT`` worst: the largest RPO past
    its target first, then the longest overdue. Two queries (the jobs, the setting)."""
    rows = [r for r in recoverability.report(now) if r.job.enabled]
    troubled = [
        r for r in rows if r.rpo_target_missed or r.rto_target_missed or r.verification_overdue
    ]
    troubled.sort(key=lambda r: (-_rpo_over(r), -_overdue_for(r), r.job.name))
    return RecoverabilityPanel(
        jobs=len(rows),
        rpo_target_missed=sum(r.rpo_target_missed for r in rows),
        rto_target_missed=sum(r.rto_target_missed for r in rows),
        verification_overdue=sum(r.verification_overdue for r in rows),
        never_verified=sum(r.job.verified_backup_at is None for r in rows),
        worst=[_row(r) for r in troubled[:LIST_LIMIT]],
    )


def _rpo_over(rec: recoverability.Recoverability) -> float:
    """Seconds past the RPO target (0 when met or none)."""
    if not rec.rpo_target_missed or not rec.job.rpo_target_minutes:
        return 0.0
    since = rec.job.last_completed_at or rec.job.created_at
    return (rec.now - since).total_seconds() - rec.job.rpo_target_minutes * 60


def _overdue_for(rec: recoverability.Recoverability) -> float:
    reference = recoverability.overdue_reference(rec.job)
    if not rec.verification_overdue or reference is None or rec.window is None:
        return 0.0
    return (rec.now - reference - rec.window).total_seconds()


def _row(rec: recoverability.Recoverability) -> RecoverabilityRow:
    troubles = [
        text
        for missed, text in (
            (rec.rpo_target_missed, "RPO target missed"),
            (rec.rto_target_missed, "RTO target missed"),
            (rec.verification_overdue, "verification overdue"),
        )
        if missed
    ]
    rto = human_duration(rec.rto_seconds)
    if rec.rto_seconds is not None and rec.job.last_restore_bytes is not None:
        rto = f"{rto} for {human_size(rec.job.last_restore_bytes)}"
    return RecoverabilityRow(
        name=rec.job.name,
        url=change("jobs.backupjob", rec.job.pk),
        rpo=human_duration(rec.rpo_seconds),
        rto=rto,
        trouble=", ".join(troubles),
    )
