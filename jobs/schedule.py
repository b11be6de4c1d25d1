"""When a job runs next: a cron expression read in the job's own time zone.

croniter walks naive local wall time here and zoneinfo turns each candidate into an instant,
because croniter's own handling of aware datetimes across DST changes has varied between
releases. The rules, in local wall time:

- a time that does not exist (the spring-forward gap) runs once, at the end of the gap
  (02:30 on the day Europe/Berlin jumps from 02:00 to 03:00 runs at 03:00 CEST);
- a time that occurs twice (the fall-back hour) runs once, at its first occurrence (fold=0).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from croniter import CroniterBadDateError, croniter

if TYPE_CHECKING:
    from jobs.models import BackupJob

# Enough candidates for any expression that matches; it only bounds the walk through a long
# run of repeated wall times, which a real time zone never has.
_MAX_CANDIDATES = 2000


def next_run(cron: str, tz: str, after: datetime) -> datetime:
    """The first run of ``cron`` in zone ``tz`` strictly after ``after``, as an aware UTC time.

    Raises ``ValueError`` for an expression croniter rejects or one that never matches.
    """
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    zone = zoneinfo.ZoneInfo(tz)
    # Starting from the wall time of ``after`` may revisit the repeated hour once more; the
    # ``> after`` test below drops those candidates, which keeps a repeated time to one run.
    start = after.astimezone(zone).replace(tzinfo=None)
    candidates = croniter(cron, start)
    try:
        for _ in range(_MAX_CANDIDATES):
            wall: datetime = candidates.get_next(datetime)
            instant = _instant(wall, zone)
            if instant > after:
                return instant
    except CroniterBadDateError as exc:
        raise ValueError(f"{cron!r} never matches a date") from exc
    raise ValueError(f"{cron!r} never matches a date")


def interval(cron: str, tz: str, now: datetime) -> timedelta:
    """The gap between the next two runs of ``cron`` in zone ``tz`` after ``now``.

    Read from now, not averaged: a daily job is 1 day (23 or 25 hours across a DST change),
    ``0 3 * * 1-5`` seen on a Saturday is the 1 day from Monday to Tuesday.
    """
    first = next_run(cron, tz, now)
    return next_run(cron, tz, first) - first


def stale_threshold(job: BackupJob, now: datetime) -> timedelta:
    """How long ``job`` may go without a completed backup before it is stale: its
    ``stale_after_minutes`` when set, otherwise twice its schedule's ``interval`` from ``now``."""
    if job.stale_after_minutes:
        return timedelta(minutes=job.stale_after_minutes)
    return 2 * interval(job.schedule_cron, job.schedule_timezone, now)


def _instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of the naive local time ``wall``: its first occurrence when it occurs
    twice, the end of the gap when it does not occur at all."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=0 reads the wall time with the offset before the change and fold=1 with
    # the one after; the change itself lies between the two readings.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(min(first, second), max(first, second), zone)


def _transition(low: datetime, high: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The first instant in (low, high] whose offset differs from the offset at ``low``,
    found to the second by bisection."""
    offset = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)
