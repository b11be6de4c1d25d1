"""The live state of an execution as its page shows it: status, phase, bytes, rate, elapsed
time and, when the total can be estimated, a percentage and the time left.

The page renders it once and then asks ``progress_json`` every few seconds while the
execution is queued or running (``executions.admin.executions`` serves it, staff only).

What ``progress`` holds is written by the worker (``executions.progress``): a backup records
bytes read from the engine (``bytes_in``), bytes stored (``bytes_out``) and the read rate; a
restore records bytes read of ``bytes_total`` for each of its two passes (``verify``, then
``restore``). A backup's total is unknown while it runs; the job's last completed backup's
size is a cheap and usually close estimate, and it is labelled as one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from core.admin_forms import status_badge
from core.display import human_duration, human_size
from executions.models import BackupExecution

# Shown while running: a running backup's estimate can be too small; it never reads 100 %.
RUNNING_CEILING = 0.99
# Below this a duration is shown as "< 0.1 s": a run that took no measurable time still ran.
SHORTEST_SHOWN = 0.1


def elapsed_seconds(execution: BackupExecution, now: datetime | None = None) -> float | None:
    """Seconds since the execution started, or what it took once finished."""
    if execution.started_at is None:
        return None
    end = execution.finished_at or now or timezone.now()
    return max((end - execution.started_at).total_seconds(), 0.0)


def run_seconds(execution: BackupExecution) -> float | None:
    """What a finished run took. ``duration_seconds`` holds whole seconds (a run shorter than
    one second recorded 0), so the timestamps, when both are there, tell it better."""
    if execution.started_at and execution.finished_at:
        return elapsed_seconds(execution)
    if execution.duration_seconds is None:
        return None
    return float(execution.duration_seconds)


def duration_text(seconds: float | None) -> str:
    if seconds is not None and seconds < SHORTEST_SHOWN:
        return f"< {SHORTEST_SHOWN} s"
    return human_duration(seconds)


@dataclass(frozen=True)
class LiveProgress:
    """One reading of an execution's progress, in numbers (the JSON) and words (the page)."""

    id: str
    kind: str
    status: str
    status_label: str
    is_final: bool
    phase: str
    bytes_in: int | None
    bytes_out: int | None
    bytes_total: int | None
    rate_bytes_per_second: float | None
    elapsed_seconds: float | None
    percent: float | None
    eta_seconds: float | None
    estimated: bool  # the total is the last backup's size, not a known figure

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "status_html": str(status_html(self.status, self.status_label)),
            "progress_html": str(progress_html(self)),
        }


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _estimated_total(execution: BackupExecution) -> int | None:
    """The raw size of the job's last completed backup."""
    size = (
        BackupExecution.objects.filter(
            job_id=execution.job_id,
            kind=BackupExecution.Kind.BACKUP,
            status=BackupExecution.Status.COMPLETED,
            size_bytes__gt=0,
        )
        .exclude(pk=execution.pk)
        .order_by("-finished_at")
        .values_list("size_bytes", flat=True)
        .first()
    )
    return int(size) if size is not None else None


def live_progress(execution: BackupExecution, now: datetime | None = None) -> LiveProgress:
    progress = execution.progress if isinstance(execution.progress, dict) else {}
    running = execution.status == BackupExecution.Status.RUNNING
    completed = execution.status == BackupExecution.Status.COMPLETED
    elapsed = elapsed_seconds(execution, now)
    phase = str(
        progress.get("phase") or ("waiting for a worker" if not execution.started_at else "")
    )
    estimated = False
    fraction: float | None = None
    rate: float | None = None
    if execution.kind == BackupExecution.Kind.RESTORE:
        total = _int(progress.get("bytes_total"))
        done = _int(progress.get("bytes_done"))
        bytes_in, bytes_out = done, None
        if total and done is not None:
            # Two passes read every byte: the check, then the restore itself.
            read = done + (total if phase in ("restore", "done") else 0)
            fraction = min(read / (2 * total), 1.0)
            if elapsed:
                rate = read / elapsed
    else:
        bytes_in = _int(progress.get("bytes_in"))
        bytes_out = _int(progress.get("bytes_out"))
        rate = progress.get("rate_bytes_per_second")
        rate = float(rate) if isinstance(rate, int | float) else None
        total = None if completed else (_estimated_total(execution) if running else None)
        estimated = total is not None
        if completed:
            total = bytes_in
        if total and bytes_in is not None:
            fraction = bytes_in / total
    if completed:
        fraction = 1.0
    elif fraction is not None:
        fraction = min(fraction, RUNNING_CEILING)
    eta = None
    if running and fraction and elapsed:
        eta = elapsed * (1 - fraction) / fraction
    return LiveProgress(
        id=str(execution.pk),
        kind=execution.kind,
        status=execution.status,
        status_label=execution.get_status_display(),
        is_final=execution.is_final,
        phase=phase,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        bytes_total=total,
        rate_bytes_per_second=rate,
        elapsed_seconds=elapsed,
        percent=round(fraction * 100, 1) if fraction is not None else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        estimated=estimated,
    )


def status_html(status: str, label: str) -> SafeString:
    return status_badge(status, label)


def progress_html(reading: LiveProgress) -> SafeString:
    rows: list[tuple[str, str]] = [("Phase", reading.phase or "—")]
    if reading.kind == BackupExecution.Kind.RESTORE:
        rows.append(("Bytes read", human_size(reading.bytes_in)))
    else:
        rows.append(("Bytes in", human_size(reading.bytes_in)))
        rows.append(("Bytes out (stored)", human_size(reading.bytes_out)))
    if reading.bytes_total is not None:
        label = "Estimated total (last backup)" if reading.estimated else "Total"
        rows.append((label, human_size(reading.bytes_total)))
    if reading.rate_bytes_per_second is not None:
        rows.append(("Rate", f"{human_size(round(reading.rate_bytes_per_second))}/s"))
    elapsed_label = "Took" if reading.is_final else "Elapsed"
    rows.append((elapsed_label, duration_text(reading.elapsed_seconds)))
    if reading.eta_seconds is not None:
        rows.append(("Time left (about)", human_duration(reading.eta_seconds)))
    return SafeString(
        render_to_string(
            "executions/admin/progress.html", {"rows": rows, "percent": reading.percent}
        )
    )
