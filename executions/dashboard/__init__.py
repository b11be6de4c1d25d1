"""What the dashboard (the admin's index page) shows, as plain query functions.

Each function runs a fixed, small number of SQL statements whatever the number of executions,
and returns plain data (dataclasses) with the admin links each number stands for, so the
template only lays it out. ``dashboard(now)`` gathers them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from executions.dashboard.overview import (
    CRITICAL_PERCENT,
    WARNING_PERCENT,
    Headline,
    LocationUsage,
    StatusCount,
    Trouble,
    executions_last_24h,
    headline,
    latest_failures,
    next_runs,
    storage_usage,
    usage_level,
)
from executions.dashboard.recoverability import (
    RecoverabilityPanel,
    RecoverabilityRow,
    recoverability_panel,
)
from executions.dashboard.running import RunningExecution, running_now
from executions.dashboard.strips import STRIP_DAYS, DayCell, JobStrip, SizeChart, job_strips

__all__ = [
    "CRITICAL_PERCENT",
    "STRIP_DAYS",
    "WARNING_PERCENT",
    "DayCell",
    "Headline",
    "JobStrip",
    "LocationUsage",
    "RecoverabilityPanel",
    "RecoverabilityRow",
    "RunningExecution",
    "SizeChart",
    "StatusCount",
    "Trouble",
    "dashboard",
    "executions_last_24h",
    "headline",
    "job_strips",
    "latest_failures",
    "next_runs",
    "recoverability_panel",
    "running_now",
    "storage_usage",
    "usage_level",
]


def dashboard(now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, at ``now``."""
    now = now or timezone.now()
    panel = recoverability_panel(now)
    return {
        "headline": headline(panel),
        "recoverability": panel,
        "strips": job_strips(now),
        "executions_24h": executions_last_24h(now),
        "next_runs": next_runs(),
        "latest_failures": latest_failures(),
        "storage": storage_usage(),
        "running": running_now(now),
    }
