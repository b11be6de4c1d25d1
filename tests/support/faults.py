"""The fault-injection harness (docs/RELIABILITY.md): real Celery workers on the test's database
and broker, the seeded rounds a fault test runs, and the invariants checked after each round.

A fault test runs ``rounds()`` rounds, each from ``rng(name, number)``: a ``random.Random`` seeded
with the printed seed, so a failing round replays with ``DATAGUARDIAN_FAULT_SEED``. After a
round has done its damage the test lets the system recover as it would in production (the
reaper passes, with the clock moved past its thresholds; the queued work run by a worker) and
collects ``violations()``; a ``Tally`` counts them per fault and writes the counts where
``DATAGUARDIAN_FAULT_REPORT`` says (``bench/faults.py`` reads them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.queues import BACKUPS
from executions.artifact import (
    CHECKSUMS,
    MANIFEST,
    ArtifactError,
    expected_chunks,
    read_manifest,
    verify_chunks,
)
from executions.models import BackupExecution
from executions.scheduler import LOST_QUEUED_AFTER, STALE_RUNNING_AFTER
from executions.tasks import reap_and_resend, run_backup, run_restore, verify_backup
from storage.models import StorageLocation
from tests.support.processes import ROOT, child_env

Status = BackupExecution.Status
BUSY = (Status.QUEUED, Status.RUNNING)
DEFAULT_SEED = 20261206
#: A run that beat within this long is alive (a running backup beats every 2 s).
ALIVE = timedelta(seconds=8)


def seed() -> int:
    return int(os.environ.get("DATAGUARDIAN_FAULT_SEED", DEFAULT_SEED))


def rounds(default: int = 2) -> int:
    """How many rounds each fault runs: ``DATAGUARDIAN_FAULT_ROUNDS``, else ``default``."""
    return int(os.environ.get("DATAGUARDIAN_FAULT_ROUNDS", default))


def rng(fault: str, number: int) -> random.Random:
    """The random source of round ``number`` of ``fault``: the same seed gives the same
    choices, whatever else ran before."""
    return random.Random(f"{seed()}:{fault}:{number}")


@dataclass
class Tally:
    """Rounds, violations and seconds of one fault, printed (and written to the report file
    when one is named) once the rounds are over."""

    fault: str
    rounds: int = 0
    violations: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    #: Where the fault struck, counted (the state the run was in, say): a suite whose faults
    #: all land in one place tests less than its rounds suggest.
    struck: dict[str, int] = field(default_factory=dict)

    def strike(self, where: str) -> None:
        self.struck[where] = self.struck.get(where, 0) + 1

    def add(self, number: int, found: list[str]) -> None:
        self.rounds += 1
        self.violations += [f"round {number}: {v}" for v in found]

    def close(self) -> None:
        seconds = round(time.monotonic() - self.started, 1)
        line = {
            "fault": self.fault,
            "seed": seed(),
            "rounds": self.rounds,
            "violations": len(self.violations),
            "seconds": seconds,
            "struck": dict(sorted(self.struck.items())),
        }
        print(f"fault {json.dumps(line)}", file=sys.stderr)
        report = os.environ.get("DATAGUARDIAN_FAULT_REPORT")
        if report:
            with open(report, "a") as out:
                out.write(json.dumps({**line, "details": self.violations[:20]}) + "\n")
        assert self.violations == [], f"seed {seed()}: {self.violations}"


# --- Workers ---------------------------------------------------------------------------------


class Worker:
    """``celery worker`` as a child process on the test's database and broker."""

    def __init__(self, log_dir: Path, name: str, queues: str = "backups,cleanup") -> None:
        self.log_path = log_dir / f"{name}.log"
        self.name, self.queues = name, queues
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Worker:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "dataguardian",
                "worker",
                "-Q",
                self.queues,
                "-P",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.name}@%h",
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 60) -> Worker:
        """Until the worker says it is ready to take messages (Celery's ``ready.`` line), so a
        fault's random moment falls in the work, not in the worker's start."""
        wait_until(lambda: " ready." in self.log(), timeout, f"worker {self.name} to start")
        return self

    def kill(self) -> None:
        """SIGKILL, as the out-of-memory killer or a pulled plug would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
        self.process, self._log = None, None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def settled() -> bool:
    """Nothing queued or running (executions and verifications), and no lost run's files still
    waiting to be deleted."""
    busy = BackupExecution.objects.filter(status__in=BUSY).exists()
    lost_files = BackupExecution.objects.filter(
        kind=BackupExecution.Kind.BACKUP, status=Status.FAILED, backup_path__gt=""
    )
    return not busy and not lost_files.exists() and not _verifying().exists()


def _verifying() -> Any:
    return BackupExecution.objects.filter(
        kind=BackupExecution.Kind.BACKUP,
        metadata__verification__status__in=["queued", "running"],
    )


def recover(timeout: float = 120) -> None:
    """What production does after a fault, until ``settled``: reaper passes with the clock
    moved past its thresholds (a lost run failed and retried, a lost message sent again), the
    queued runs taken by a worker (here, the task functions called in this process as a
    worker calls them, so a retry does not wait for its back-off), and the deletion of a lost
    run's files left to the cleanup worker the test runs.

    The clock is moved only while no run has beaten in the last ``ALIVE`` seconds: a live
    worker's run is never taken for a lost one because the harness jumped ahead."""
    deadline = time.monotonic() + timeout
    while not settled():
        assert time.monotonic() < deadline, f"the system did not settle: {_busy()}"
        if not _beating():
            jump = max(STALE_RUNNING_AFTER, LOST_QUEUED_AFTER) + timedelta(seconds=5)
            reap_and_resend(now=timezone.now() + jump)
        for execution in BackupExecution.objects.filter(status=Status.QUEUED):
            task = run_restore if execution.kind == BackupExecution.Kind.RESTORE else run_backup
            task.apply(args=[str(execution.pk)])
        for backup in _verifying().filter(metadata__verification__status="queued"):
            token = backup.metadata["verification"].get("queued_at")
            verify_backup.apply(args=[str(backup.pk), token])
        time.sleep(0.2)


def _beating() -> bool:
    """Whether a run or a verification beat within ``ALIVE``: a live worker is at it."""
    fresh = timezone.now() - ALIVE
    if BackupExecution.objects.filter(status=Status.RUNNING, heartbeat_at__gte=fresh).exists():
        return True
    for backup in _verifying().filter(metadata__verification__status="running"):
        marker = backup.metadata["verification"]
        beat = parse_datetime(str(marker.get("beat_at") or marker.get("started_at") or ""))
        if beat is not None and beat >= fresh:
            return True
    return False


def _busy() -> list[str]:
    return [
        f"{e.pk} {e.kind} {e.status} path={e.backup_path!r}"
        for e in BackupExecution.objects.exclude(status=Status.COMPLETED).exclude(
            status=Status.CANCELLED, backup_path=""
        )
    ]


# --- Invariants ------------------------------------------------------------------------------


class _Progress:
    def start(self, phase: str) -> None:
        pass

    def add(self, count: int) -> None:
        pass


def violations(now: datetime | None = None) -> list[str]:
    """Every invariant of docs/RELIABILITY.md that the database and the storage locations
    break now, as sentences; call it once the system has settled."""
    found: list[str] = []
    stuck = BackupExecution.objects.filter(status__in=BUSY)
    found += [f"execution {e.pk} ({e.kind}) still {e.status}" for e in stuck]
    found += [
        f"the verification of {b.pk} is still {b.metadata['verification']['status']}"
        for b in _verifying()
    ]
    found += _completed_backups_are_whole()
    found += _nothing_looks_like_a_backup_that_is_not_one()
    slots = (
        BackupExecution.objects.filter(scheduled_for__isnull=False, metadata__retry_of=None)
        .values("job_id", "scheduled_for")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    found += [f"{s['n']} executions for job {s['job_id']} slot {s['scheduled_for']}" for s in slots]
    most = BACKUPS.max_retries + 1
    found += [
        f"execution {e.pk} is attempt {e.attempt}, over the {most} allowed"
        for e in BackupExecution.objects.filter(attempt__gt=most)
    ]
    return found


def _completed_backups_are_whole() -> list[str]:
    found = []
    completed = BackupExecution.objects.filter(
        kind=BackupExecution.Kind.BACKUP, status=Status.COMPLETED
    ).select_related("storage_location")
    for backup in completed:
        adapter = backup.storage_location.adapter(backup.storage_location.config)
        try:
            manifest = read_manifest(adapter, backup)
            chunks = expected_chunks(adapter, backup, manifest)
            verify_chunks(adapter, chunks, manifest, _Progress())
        except ArtifactError as exc:
            found.append(f"completed backup {backup.pk} is not whole: {exc}")
    return found


def _nothing_looks_like_a_backup_that_is_not_one() -> list[str]:
    """Every directory of a location that holds files is the directory of a completed backup
    with its manifest (a failed or lost run left nothing published)."""
    found = []
    completed = set(
        BackupExecution.objects.filter(
            kind=BackupExecution.Kind.BACKUP, status=Status.COMPLETED
        ).values_list("storage_location_id", "backup_path")
    )
    for location in StorageLocation.objects.all():
        adapter = location.adapter(location.config)
        directories: dict[str, set[str]] = {}
        for stored in adapter.list_files():
            directory, _, name = stored.path.rpartition("/")
            directories.setdefault(directory, set()).add(name)
        for directory, names in sorted(directories.items()):
            if (location.pk, directory) in completed:
                if not {MANIFEST, CHECKSUMS} <= names:
                    found.append(f"{location.name}:{directory} lacks its index files")
                continue
            found.append(f"{location.name}:{directory} holds {sorted(names)} of no backup")
    return found


def describe(execution: BackupExecution) -> dict[str, Any]:
    execution.refresh_from_db()
    return {
        "id": str(execution.pk),
        "status": execution.status,
        "error": execution.error_message,
        "attempt": execution.attempt,
    }
