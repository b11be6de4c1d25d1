"""How the admin shows times, sizes and durations: one way everywhere.

Times are shown in the zone they belong to (a job's schedule zone), labelled with it, with the
UTC instant in the element's title so a hover shows it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

EMPTY = "—"


def zoned_time(moment: datetime | None, zone: str | tzinfo | None = None) -> SafeString:
    """``moment`` in ``zone`` (a name such as ``Europe/Berlin``; without one, the server's
    ``TIME_ZONE``), labelled
    with the zone's abbreviation, the UTC time on hover. A ``<time>`` element."""
    if moment is None:
        return format_html("{}", EMPTY)
    tz = ZoneInfo(zone) if isinstance(zone, str) else (zone or timezone.get_current_timezone())
    local = timezone.localtime(moment, tz)
    utc = timezone.localtime(moment, ZoneInfo("UTC"))
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime("%Y-%m-%d %H:%M"),
        local.tzname() or str(tz),
    )


_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def human_size(size: int | None) -> str:
    """``1536`` → ``1.5 KiB``; binary units, one decimal from KiB on."""
    if size is None:
        return EMPTY
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    """``0.4`` → ``0.4 s``, ``125`` → ``2 min 5 s``, ``7260`` → ``2 h 1 min``."""
    if seconds is None:
        return EMPTY
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
