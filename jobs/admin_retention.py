"""The retention preview of the job page: which backups a policy keeps, and why.

The plan itself is made by ``executions.cleanup.retention_preview`` (``jobs`` cannot import
``executions``); this module turns its rows into HTML, with each reason put the way an operator
reads a policy: "daily 3 of 7" is the backup that fills the third of seven daily slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.display import human_size, zoned_time
from jobs.retention import FUTURE, NEWEST, RetentionPolicy

RESTORING = "restoring"
#: Rows listed; a job backed up hourly for months has thousands, and the newest are the ones
#: a policy change decides about first. The counts above the table cover all of them.
MAX_ROWS = 100
# Inline styles: the theme's stylesheet is prebuilt and holds only the classes it uses itself.
CELL = "padding:2px 12px 2px 0;vertical-align:top"
CELL_NOWRAP = CELL + ";white-space:nowrap"
HEAD = CELL_NOWRAP + ";text-align:left;font-weight:600"


@dataclass(frozen=True)
class PreviewRow:
    """One completed backup in the preview: when it finished, its size, why it is kept (no
    reasons: it would be deleted)."""

    finished_at: datetime
    size_bytes: int | None
    reasons: list[str] = field(default_factory=list)


def explain_reason(reason: str, policy: RetentionPolicy, today: date) -> str:
    """``"daily 2026-11-20"`` seen on 2026-11-22 under ``keep_daily=7`` → ``"daily 3 of 7"``."""
    if reason == NEWEST:
        return "newest (always kept)"
    if reason == FUTURE:
        return "finished in the future (clock skew), kept"
    if reason == RESTORING:
        return "being restored"
    rule, _, key = reason.partition(" ")
    try:
        if rule == "daily":
            slot = (today - date.fromisoformat(key)).days + 1
            return f"daily {slot} of {policy.keep_daily}"
        if rule == "weekly":
            year, week = key.split("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
            this_monday = date.fromisocalendar(*today.isocalendar()[:2], 1)
            return f"weekly {(this_monday - monday).days // 7 + 1} of {policy.keep_weekly}"
        if rule == "monthly":
            year, month = key.split("-")
            slot = today.year * 12 + today.month - (int(year) * 12 + int(month)) + 1
            return f"monthly {slot} of {policy.keep_monthly}"
    except ValueError:
        pass
    return reason


def policy_from_form(data: Mapping[str, Any], fallback: Mapping[str, Any]) -> dict[str, Any]:
    """The retention policy typed in the form (``keep_daily`` ... from the endpoint's query),
    each value missing or unreadable taken from ``fallback``."""
    policy = dict(fallback)
    for key in ("keep_daily", "keep_weekly", "keep_monthly"):
        try:
            policy[key] = max(0, int(str(data.get(key, "")).strip()))
        except ValueError:
            continue
    if "auto_delete" in data:
        policy["auto_delete"] = str(data["auto_delete"]).lower() in {"1", "true", "on", "yes"}
    return policy


def render_preview(
    rows: Sequence[PreviewRow], policy: RetentionPolicy, zone: str, now: datetime
) -> SafeString:
    """The preview table, newest first: kept backups with their reasons, the others marked as
    deleted (by the next cleanup when auto-delete is on)."""
    if not rows:
        return format_html(
            "{}", "No completed backups yet: the policy applies once there are some."
        )
    today = now.astimezone(ZoneInfo(zone)).date()
    kept = sum(1 for row in rows if row.reasons)
    fate = (
        "deleted by the next cleanup"
        if policy.auto_delete
        else "would be deleted (auto-delete is off)"
    )
    body = format_html_join(
        "",
        '<tr class="{}"><td style="{}">{}</td><td style="{}">{}</td><td style="{}">{}</td></tr>',
        (
            (
                "dg-kept" if row.reasons else "dg-deleted",
                CELL_NOWRAP,
                zoned_time(row.finished_at, zone),
                CELL_NOWRAP,
                human_size(row.size_bytes),
                CELL,
                "kept because: " + ", ".join(explain_reason(r, policy, today) for r in row.reasons)
                if row.reasons
                else fate,
            )
            for row in rows[:MAX_ROWS]
        ),
    )
    rest = rows[MAX_ROWS:]
    more = (
        format_html(
            '<p class="mt-2">… and {} older backups not listed ({} of them kept).</p>',
            len(rest),
            sum(1 for row in rest if row.reasons),
        )
        if rest
        else ""
    )
    freed = sum(row.size_bytes or 0 for row in rows if not row.reasons)
    return format_html(
        '<p class="mb-2">{} of {} completed backups kept; {} {} {} freed.</p>'
        '<table class="dg-retention-preview" style="border-collapse:collapse"><thead><tr>'
        '<th style="{}">Finished</th><th style="{}">Size</th><th style="{}">Fate</th>'
        "</tr></thead><tbody>{}</tbody></table>{}",
        kept,
        len(rows),
        len(rows) - kept,
        "deleted by the next cleanup," if policy.auto_delete else "would be deleted,",
        human_size(freed),
        HEAD,
        HEAD,
        HEAD,
        body,
        more,
    )
