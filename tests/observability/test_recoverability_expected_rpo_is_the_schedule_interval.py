"""Expected RPO is the schedule's interval read from now, in the job's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from executions import recoverability


def test_a_daily_schedule_expects_a_day():
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    assert recoverability.expected_rpo_seconds("0 2 * * *", "UTC", now) == 86400


def test_an_hourly_schedule_expects_an_hour():
    now = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
    assert recoverability.expected_rpo_seconds("15 * * * *", "UTC", now) == 3600


def test_the_night_the_clocks_go_forward_is_23_hours():
    now = datetime(2026, 3, 28, 1, 0, tzinfo=UTC)  # the 28th 04:00 CET, then the 29th 04:00 CEST
    assert recoverability.expected_rpo_seconds("0 4 * * *", "Europe/Paris", now) == 23 * 3600


def test_the_night_the_clocks_go_back_is_25_hours():
    now = datetime(2026, 10, 24, 1, 0, tzinfo=UTC)  # the 24th 04:00 CEST, then the 25th 04:00 CET
    assert recoverability.expected_rpo_seconds("0 4 * * *", "Europe/Paris", now) == 25 * 3600
