"""GFS retention: which completed backups of a job are kept, and why. Pure: no ORM, no clock.

The rules, applied to the job's backups whose status is ``completed``:

* Every backup is placed in the local calendar day, ISO week and month of its ``finished_at``
  converted to the job's time zone ``tz``. "Today" is ``now`` converted to ``tz``.
* **Daily**: for each of the ``keep_daily`` calendar days ``today, today-1, ...,
  today-(keep_daily-1)``, the newest backup finished that day is kept (reason
  ``"daily 2026-11-20"``).
* **Weekly**: for each of the ``keep_weekly`` ISO weeks counting the current one backwards, the
  newest backup of that week is kept (``"weekly 2026-W47"``; the ISO year, so 2027-01-01 is in
  ``2026-W53``).
* **Monthly**: for each of the ``keep_monthly`` calendar months counting the current one
  backwards, the newest backup of that month is kept (``"monthly 2026-11"``).
* The periods are calendar periods, not "the last N backups": a day, week or month without a
  backup uses up its slot. A policy then means a span of time ("daily for a week, weekly for a
  month, monthly for a year"), whatever the schedule or missed runs, and the storage a job needs
  is bounded by the policy alone. The consequence: when a job stops backing up, its old daily
  backups age out of the daily window while the monthly rule still holds one per month.
* **Newest**: the newest backup is always kept (``"newest"``), whatever the policy, even all
  zeros, so a job that has ever succeeded always has something to restore.
* **Future**: a backup finished after ``now`` (clock skew between hosts) is kept (``"future"``)
  and set aside: it takes no period slot and is not the ``newest``, so a skewed clock can never
  push out a correctly dated backup.
* The rules combine as a union; a backup kept by several rules lists every reason, in the order
  future, newest, daily, weekly, monthly.
* Every other completed backup is deleted. Backups in any other status (queued, running, failed,
  cancelled) appear in neither list: retention never touches them.

"Newest" is by ``finished_at``; two backups finished at the same instant are ordered by ``str``
of their id, so the plan is the same on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

COMPLETED = "completed"

IdT = TypeVar("IdT", bound=Hashable)

NEWEST = "newest"
FUTURE = "future"


@dataclass(frozen=True)
class BackupRecord(Generic[IdT]):
    """What the planner needs to know about one backup execution."""

    id: IdT
    finished_at: datetime  # timezone-aware
    status: str = COMPLETED


@dataclass(frozen=True)
class RetentionPolicy:
    """``BackupJob.retention_policy`` as typed values (see ``jobs.schemas``)."""

    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 12
    auto_delete: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """From the stored JSON; keys missing from an older row take the schema's defaults."""
        return cls(
            keep_daily=int(data.get("keep_daily", cls.keep_daily)),
            keep_weekly=int(data.get("keep_weekly", cls.keep_weekly)),
            keep_monthly=int(data.get("keep_monthly", cls.keep_monthly)),
            auto_delete=bool(data.get("auto_delete", cls.auto_delete)),
        )


@dataclass(frozen=True)
class RetentionPlan(Generic[IdT]):
    """``keep`` maps each kept id to its reasons (newest backup first); ``delete`` lists the
    ids to delete, oldest first."""

    keep: dict[IdT, list[str]] = field(default_factory=dict)
    delete: list[IdT] = field(default_factory=list)


def day_key(moment: date) -> str:
    return moment.isoformat()


def week_key(moment: date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(moment: date) -> str:
    return f"{moment.year}-{moment.month:02d}"


def recent_days(today: date, count: int) -> set[str]:
    return {day_key(today - timedelta(days=n)) for n in range(count)}


def recent_weeks(today: date, count: int) -> set[str]:
    # Any day of a week names that week; stepping back 7 days from today visits each one once.
    return {week_key(today - timedelta(weeks=n)) for n in range(count)}


def recent_months(today: date, count: int) -> set[str]:
    start = today.year * 12 + today.month - 1
    return {f"{(start - n) // 12}-{(start - n) % 12 + 1:02d}" for n in range(count)}


def _order(record: BackupRecord[Any]) -> tuple[datetime, str]:
    return (record.finished_at, str(record.id))


def plan_retention(
    backups: Sequence[BackupRecord[IdT]], policy: RetentionPolicy, tz: ZoneInfo, now: datetime
) -> RetentionPlan[IdT]:
    """Decide, for every completed backup in ``backups``, whether it is kept (and why) or
    deleted, under ``policy`` with calendar periods in ``tz`` as of ``now`` (aware)."""
    completed = sorted((b for b in backups if b.status == COMPLETED), key=_order, reverse=True)
    today = now.astimezone(tz).date()
    rules: list[tuple[str, Callable[[date], str], set[str]]] = [
        ("daily", day_key, recent_days(today, policy.keep_daily)),
        ("weekly", week_key, recent_weeks(today, policy.keep_weekly)),
        ("monthly", month_key, recent_months(today, policy.keep_monthly)),
    ]
    keep: dict[IdT, list[str]] = {}
    newest_taken = False
    for backup in completed:  # newest first: the first backup seen in a period is its newest
        if backup.finished_at > now:
            keep[backup.id] = [FUTURE]
            continue
        reasons: list[str] = []
        if not newest_taken:
            reasons.append(NEWEST)
            newest_taken = True
        local_day = backup.finished_at.astimezone(tz).date()
        for name, key_of, open_periods in rules:
            key = key_of(local_day)
            if key in open_periods:
                open_periods.discard(key)  # the period's slot is now filled
                reasons.append(f"{name} {key}")
        if reasons:
            keep[backup.id] = reasons
    delete = [b.id for b in reversed(completed) if b.id not in keep]
    return RetentionPlan(keep=keep, delete=delete)
