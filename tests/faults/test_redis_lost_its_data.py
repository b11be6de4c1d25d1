"""Fault: Redis loses its data (FLUSHALL, or a restart without persistence) at a random moment
while backups, a restore and a verification are queued or running. The database is the source
of truth: the reaper sends again what was lost, everything runs once, and nothing is left
queued, running or half-written."""

from __future__ import annotations

import time

import pytest

from core.queues import PRIORITY_MANUAL
from executions.models import BackupExecution
from executions.restore import restore_execution
from executions.services import create_backup_execution
from executions.tasks import back_up, enqueue_backup, enqueue_restore, enqueue_verification
from tests.support.faults import Tally, recover, rng, rounds, violations
from tests.support.jobs import claimed_backup

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_redis_losing_its_data_loses_no_run(files_job, workers, broker, tmp_path):
    tally = Tally("Redis lost its data")
    backup = claimed_backup(files_job)
    assert back_up(backup), backup.error_message
    workers("survivor").wait_ready()
    for number in range(rounds()):
        draw = rng(tally.fault, number)
        runs = [create_backup_execution(files_job) for _ in range(2)]
        runs.append(restore_execution(backup, target_path=str(tmp_path / f"restored-{number}")))
        enqueue_backup(runs[0])
        enqueue_backup(runs[1])
        enqueue_restore(runs[2])
        enqueue_verification(backup, priority=PRIORITY_MANUAL)
        time.sleep(draw.uniform(0.0, 4.0))
        tally.strike("+".join(sorted({r.status for r in _fresh(runs)})))
        broker.clear()
        recover()
        found = violations()
        found += [
            f"{r.kind} {r.pk} ended {r.status}: {r.error_message}"
            for r in _fresh(runs)
            if r.status != BackupExecution.Status.COMPLETED
        ]
        backup.refresh_from_db()
        if backup.metadata["verification"]["status"] != "passed":
            found.append(f"the verification ended {backup.metadata['verification']}")
        tally.add(number, found)
    tally.close()


def _fresh(runs: list[BackupExecution]) -> list[BackupExecution]:
    for run in runs:
        run.refresh_from_db()
    return runs
