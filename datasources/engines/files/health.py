"""The health check: the source directory can be listed, and how full its file system is."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from datasources.engines.base import HealthResult, elapsed_ms

#: Above this share of its file system in use, a files datasource is reported with a warning.
DISK_WARNING_PERCENT = 90.0


def check_directory(source: Path) -> HealthResult:
    """The directory exists and can be listed; how full its file system is.

    A missing directory is ``unreachable`` (nothing there to back up, as with a host that is
    down); one that exists but cannot be listed is ``error``. Local calls return at once, so the
    check needs no timeout of its own (a hung network mount is the exception it cannot bound).
    """
    started = time.monotonic()
    if not source.exists():
        return HealthResult(
            "unreachable",
            elapsed_ms(started),
            error_message=f"The source directory {source} does not exist.",
        )
    try:
        with os.scandir(source) as it:
            next(it, None)
        disk = shutil.disk_usage(source)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return HealthResult(
            "error", elapsed_ms(started), error_message=f"Cannot read {source}: {reason}."
        )
    latency = elapsed_ms(started)
    used_percent = round(100 * (disk.total - disk.free) / disk.total, 1) if disk.total else 0.0
    warning = ""
    if used_percent > DISK_WARNING_PERCENT:
        warning = (
            f"The file system of {source} is {used_percent:g}% full "
            f"(warning above {DISK_WARNING_PERCENT:g}%)."
        )
    return HealthResult(
        "ok",
        latency,
        metadata={
            "disk_used_percent": used_percent,
            "disk_free_bytes": disk.free,
            "disk_total_bytes": disk.total,
        },
        warning=warning,
    )
