"""Sizes, durations and times read the same on every admin page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.display import human_duration, human_size, zoned_time


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, "—"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_sizes_read_in_binary_units(size, shown):
    assert human_size(size) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (0.4, "0.4 s"), (42, "42 s"), (125, "2 min 5 s"), (7260, "2 h 1 min")],
)
def test_durations_read_in_the_largest_units(seconds, shown):
    assert human_duration(seconds) == shown


def test_a_time_is_shown_in_its_zone_labelled_with_utc_on_hover():
    moment = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    html = zoned_time(moment, "Europe/Berlin")
    assert ">2026-01-15 03:00 CET</time>" in html
    assert 'title="2026-01-15 02:00:00 UTC"' in html
    assert zoned_time(None, "Europe/Berlin") == "—"
