"""The executions queued or running now, with what their ``progress`` says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.display import human_duration, human_size
from executions.dashboard.links import change
from executions.models import BackupExecution

#: Executions the panel lists, oldest first; the rest are counted.
RUNNING_LIMIT = 20

Status = BackupExecution.Status


@dataclass(frozen=True)
class RunningExecution:
    execution: BackupExecution
    phase: str
    done: str  # bytes written (backup) or read of the total (restore)
    elapsed: str
    url: str

    def as_json(self) -> dict[str, object]:
        execution = self.execution
        return {
            "id": str(execution.pk),
            "kind": execution.kind,
            "status": execution.status,
            "job": execution.job.name,
            "phase": self.phase,
            "done": self.done,
            "elapsed": self.elapsed,
            "url": self.url,
        }


def _done(progress: dict[str, object]) -> str:
    if "bytes_total" in progress:
        done, total = progress.get("bytes_done"), progress.get("bytes_total")
        if isinstance(done, int) and isinstance(total, int):
            return f"{human_size(done)} of {human_size(total)}"
    written = progress.get("bytes_out", progress.get("bytes_in"))
    return human_size(written) if isinstance(written, int) else "—"


def running_now(now: datetime, limit: int = RUNNING_LIMIT) -> list[RunningExecution]:
    """Queued and running executions (backups and restores), oldest first. One query."""
    rows = (
        BackupExecution.objects.filter(status__in=[Status.QUEUED, Status.RUNNING])
        .select_related("job")
        .only("kind", "status", "created_at", "started_at", "progress", "job__name")
        .order_by("created_at")[:limit]
    )
    running = []
    for execution in rows:
        progress = execution.progress if isinstance(execution.progress, dict) else {}
        since = execution.started_at or execution.created_at
        phase = str(progress.get("phase") or execution.get_status_display())
        running.append(
            RunningExecution(
                execution,
                phase,
                _done(progress),
                human_duration(max(0.0, (now - since).total_seconds())),
                change("executions.backupexecution", execution.pk),
            )
        )
    return running
