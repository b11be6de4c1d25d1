"""next_run reads cron in the job's time zone and runs each wall time once across DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.schedule import next_run


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_sao_paulo_job_at_three_runs_at_six_utc():
    assert next_run("0 3 * * *", "America/Sao_Paulo", utc(2026, 5, 1, 0, 0)) == utc(
        2026, 5, 1, 6, 0
    )


def test_the_result_is_strictly_after_the_given_instant():
    assert next_run("0 3 * * *", "UTC", utc(2026, 5, 1, 3, 0)) == utc(2026, 5, 2, 3, 0)


def test_a_berlin_time_in_the_spring_gap_runs_at_the_end_of_the_gap():
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12, 0)) == utc(
        2026, 3, 29, 1, 0
    )


def test_a_berlin_time_in_the_spring_gap_runs_only_once_that_day():
    after_gap_run = utc(2026, 3, 29, 1, 0)
    assert next_run("30 2 * * *", "Europe/Berlin", after_gap_run) == utc(2026, 3, 30, 0, 30)


def test_several_slots_in_the_spring_gap_collapse_into_one_run():
    first = next_run("*/15 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 23, 0))
    assert first == utc(2026, 3, 29, 1, 0)
    assert next_run("*/15 2 * * *", "Europe/Berlin", first) == utc(2026, 3, 30, 0, 0)


def test_a_berlin_time_in_the_repeated_autumn_hour_runs_at_its_first_occurrence():
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:30 occurs at 00:30 and 01:30 UTC.
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12, 0)) == utc(
        2026, 10, 25, 0, 30
    )


def test_a_berlin_time_in_the_repeated_autumn_hour_does_not_run_again_at_the_second():
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 30)) == utc(
        2026, 10, 26, 1, 30
    )


def test_asking_during_the_second_occurrence_does_not_return_the_first_again():
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 10)) == utc(
        2026, 10, 26, 1, 30
    )


def test_a_new_york_time_in_the_spring_gap_runs_at_three_edt():
    # 8 March 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    assert next_run("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12, 0)) == utc(
        2026, 3, 8, 7, 0
    )


def test_a_new_york_time_in_the_repeated_autumn_hour_runs_once():
    # 1 November 2026: 01:30 occurs at 05:30 UTC (EDT) and 06:30 UTC (EST).
    first = next_run("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12, 0))
    assert first == utc(2026, 11, 1, 5, 30)
    assert next_run("30 1 * * *", "America/New_York", first) == utc(2026, 11, 2, 6, 30)


def test_a_daily_job_keeps_its_local_hour_across_the_change():
    before = next_run("0 4 * * *", "Europe/Berlin", utc(2026, 3, 27, 12, 0))
    after = next_run("0 4 * * *", "Europe/Berlin", utc(2026, 3, 29, 12, 0))
    assert (before.hour, after.hour) == (3, 2)


def test_an_expression_that_never_matches_raises_value_error():
    with pytest.raises(ValueError, match="never matches"):
        next_run("0 0 30 2 *", "UTC", utc(2026, 1, 1, 0, 0))
