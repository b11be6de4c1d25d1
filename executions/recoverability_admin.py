"""The job page's recoverability: ``executions.recoverability.of`` the job, as of now, in
words and human units (docs/OBSERVABILITY.md)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.display import human_duration, human_size
from executions import recoverability
from jobs.models import BackupJob


class RecoverabilityMixin:
    """Gives ``BackupJobAdmin.describe_recoverability`` the job's computed RPO and RTO."""

    def describe_recoverability(self, job: BackupJob) -> SafeString:
        return render(recoverability.of(job))


def render(rec: recoverability.Recoverability) -> SafeString:
    job = rec.job
    rto = human_duration(rec.rto_seconds)
    if rec.rto_seconds is not None and job.last_restore_bytes is not None:
        rto = f"{rto} for {human_size(job.last_restore_bytes)}"
    rows = [
        ("RPO now", _age(rec.rpo_seconds, "no backup has completed")),
        ("RPO verified", _age(rec.verified_rpo_seconds, "no backup has passed a verification")),
        ("Expected RPO", human_duration(rec.expected_rpo_seconds)),
        ("RTO", rto if rec.rto_seconds is not None else "no restore measured yet"),
        ("RPO target", _target(job.rpo_target_minutes, rec.rpo_target_missed)),
        ("RTO target", _target(job.rto_target_minutes, rec.rto_target_missed)),
        ("Restore test", _window(rec)),
    ]
    return format_html(
        '<table class="recoverability"><tbody>{}</tbody></table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )


def _age(seconds: float | None, none: str) -> str:
    return f"{human_duration(seconds)} ago" if seconds is not None else none


def _target(minutes: int | None, missed: bool) -> str:
    if not minutes:
        return "none"
    return f"{human_duration(minutes * 60)}: {'missed' if missed else 'met'}"


def _window(rec: recoverability.Recoverability) -> str:
    if rec.window is None:
        return "off"
    every = f"every {rec.window.days} day{'s' if rec.window.days != 1 else ''}"
    return f"{every}: overdue" if rec.verification_overdue else every
