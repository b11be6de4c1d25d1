"""Progress of a running execution: written to its row every ``PROGRESS_INTERVAL`` seconds
together with the heartbeat the reaper watches (and its log tail when lines came), and the
place a run notices it was cancelled (or ended by the reaper) and stops."""

from __future__ import annotations

import time
import uuid

from django.utils import timezone

from core.logging import tail_of
from executions.models import BackupExecution
from executions.pipeline.stream import Progress

PROGRESS_INTERVAL = 2.0


class RunStopped(Exception):
    """The execution was cancelled, or ended by another process, while it ran."""


def _write(execution_id: uuid.UUID, what: str, progress: dict[str, object]) -> None:
    """One conditional UPDATE: progress and heartbeat land only while the execution is
    ``running``. When nothing was updated the run has been ended elsewhere, and stops."""
    updated = BackupExecution.objects.filter(
        pk=execution_id, status=BackupExecution.Status.RUNNING
    ).update(heartbeat_at=timezone.now(), progress=progress, **new_log_tail(execution_id))
    if updated:
        return
    status = BackupExecution.objects.filter(pk=execution_id).values_list("status", flat=True)
    current = status.first()
    if current == BackupExecution.Status.CANCELLED:
        raise RunStopped(f"The {what} was cancelled.")
    raise RunStopped(f"The execution is {current}; another process ended it.")


def new_log_tail(execution_id: uuid.UUID) -> dict[str, str]:
    """``{"log_tail": …}`` when the run's collected lines changed since the last write, so a
    running execution shows its log too; else nothing (no write per log line)."""
    tail = tail_of(execution_id)
    text = tail.changes() if tail is not None else None
    return {} if text is None else {"log_tail": text}


def record_backup_progress(execution_id: uuid.UUID, progress: Progress) -> None:
    """Write a backup's progress (the pipeline calls this every ``PROGRESS_INTERVAL``)."""
    _write(
        execution_id,
        "backup",
        {
            "phase": progress.phase,
            "bytes_in": progress.raw_bytes,
            "bytes_out": progress.compressed_bytes,
            "rate_bytes_per_second": round(progress.rate),
            "chunk": progress.chunk,
        },
    )


class RestoreProgress:
    """A restore's progress: phase (``verify``, then ``restore``) and bytes read of
    ``total``, written at most every ``PROGRESS_INTERVAL`` seconds."""

    def __init__(self, execution: BackupExecution, total: int) -> None:
        self.execution = execution
        self.total = total
        self.phase = "verify"
        self.done = 0
        self._last = 0.0

    def start(self, phase: str) -> None:
        self.phase, self.done, self._last = phase, 0, 0.0
        self.add(0)

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        _write(
            self.execution.pk,
            "restore",
            {"phase": self.phase, "bytes_total": self.total, "bytes_done": self.done},
        )
