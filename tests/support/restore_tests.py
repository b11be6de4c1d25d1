"""Scheduled restore tests with the clock moved: completed backups made through the model's
own transitions, verification outcomes recorded the way a worker records them, and a
simulation of the 10-minute pass with verifications that finish later than the tick."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from executions import recoverability, verification
from executions.models import BackupExecution
from executions.tasks import send_restore_tests
from executions.verification.run import _record
from jobs.models import BackupJob
from tests.factories import BackupJobFactory
from tests.support.jobs import claimed_backup

TICK = timedelta(minutes=10)


def jobs(count: int, seed: int = 19, **fields: Any) -> list[BackupJob]:
    """``count`` jobs with ids drawn from a seeded generator (the phases are the ids', so a
    seed keeps the simulations the same from run to run)."""
    draw = random.Random(seed)
    return [
        BackupJobFactory.create(id=uuid.UUID(int=draw.getrandbits(128), version=4), **fields)
        for _ in range(count)
    ]


def completed_backup(job: BackupJob) -> BackupExecution:
    """A completed backup of ``job``, claimed and completed by the model's own methods (so the
    job's record fields are set as a real run sets them)."""
    execution = claimed_backup(job)
    execution.complete(size_bytes=4096, compressed_size_bytes=1024)
    return execution


def finish_verification(
    backup: BackupExecution, at: datetime, status: str = "passed", seconds: float = 1.5
) -> None:
    """Record a verification outcome of ``backup`` at ``at`` as ``verify_backup`` records it."""
    _record(
        backup,
        {"status": status, "checks": [], "restore_seconds": seconds, "verified_at": at.isoformat()},
    )


def job_of(backup: BackupExecution) -> BackupJob:
    return BackupJob.objects.only(*recoverability.FIELDS).get(pk=backup.job_id)


@dataclass
class Simulation:
    """The pass every ``TICK``; each verification sent is taken by a worker at the same tick
    and finishes ``run_time`` later (passed)."""

    run_time: timedelta = timedelta(minutes=25)
    sends: list[tuple[datetime, BackupExecution]] = field(default_factory=list)
    running: list[tuple[datetime, BackupExecution]] = field(default_factory=list)
    most_at_once: int = 0

    def tick(self, now: datetime) -> list[BackupExecution]:
        for finish, backup in list(self.running):
            if finish <= now:
                finish_verification(backup, finish)
                self.running.remove((finish, backup))
        sent = send_restore_tests(now)
        for backup in sent:
            verification.mark_running(backup, "simulated", at=now)
            self.running.append((now + self.run_time, backup))
            self.sends.append((now, backup))
        self.most_at_once = max(self.most_at_once, len(self.running))
        return sent

    def run(self, start: datetime, span: timedelta) -> None:
        now = start
        while now < start + span:
            self.tick(now)
            now += TICK

    def sent_jobs(self) -> list[Any]:
        return [backup.job_id for _, backup in self.sends]
