"""``stale_threshold``: twice the gap between the schedule's next two runs, read in the job's
time zone, or the job's own ``stale_after_minutes``. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import BackupJob
from jobs.schedule import stale_threshold


def _job(cron: str, tz: str = "UTC", stale_after_minutes: int | None = None) -> BackupJob:
    return BackupJob(
        schedule_cron=cron, schedule_timezone=tz, stale_after_minutes=stale_after_minutes
    )


@pytest.mark.parametrize(
    ("cron", "threshold"),
    [
        ("*/15 * * * *", timedelta(minutes=30)),
        ("0 * * * *", timedelta(hours=2)),
        ("0 3 * * *", timedelta(days=2)),
        ("0 3 * * 0", timedelta(weeks=2)),
    ],
)
def test_the_threshold_is_twice_the_schedule_s_interval(cron, threshold):
    assert stale_threshold(_job(cron), datetime(2026, 6, 15, 12, tzinfo=UTC)) == threshold


def test_the_interval_is_read_in_the_job_s_time_zone_across_a_dst_change():
    # Europe/Berlin springs forward in the night to 29 March 2026: from 03:00 CET on the 28th
    # to 03:00 CEST on the 29th is 23 hours.
    now = datetime(2026, 3, 27, 12, tzinfo=UTC)

    assert stale_threshold(_job("0 3 * * *", "Europe/Berlin"), now) == timedelta(hours=46)


def test_the_interval_is_the_gap_between_the_next_two_runs_from_now():
    # Weekdays only, seen on a Saturday: the next two runs are Monday and Tuesday.
    saturday = datetime(2026, 6, 13, 12, tzinfo=UTC)

    assert stale_threshold(_job("0 3 * * 1-5"), saturday) == timedelta(days=2)


def test_stale_after_minutes_replaces_the_schedule():
    job = _job("0 3 * * *", stale_after_minutes=90)

    assert stale_threshold(job, datetime(2026, 6, 15, tzinfo=UTC)) == timedelta(minutes=90)
