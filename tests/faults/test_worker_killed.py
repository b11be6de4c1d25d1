"""Fault: the worker is killed (SIGKILL) at a random point of a backup or of a restore: before
it claimed the run, while data moves, or after it ended. Once the reaper has passed nothing is
left queued or running, every completed backup is whole, nothing a lost run wrote stays on
storage, and a retry keeps to the attempt budget."""

from __future__ import annotations

import os
import time

import pytest

from executions.models import BackupExecution
from executions.restore import restore_execution
from executions.services import create_backup_execution
from executions.tasks import back_up, enqueue_backup, enqueue_restore, enqueue_verification
from tests.support.faults import Tally, recover, rng, rounds, violations
from tests.support.jobs import claimed_backup

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_at_a_random_point_of_a_backup(files_job, workers, broker):
    tally = Tally("worker killed during a backup")
    workers("cleaner", "cleanup")
    for number in range(rounds()):
        draw = rng(tally.fault, number)
        victim = workers(f"backup-victim-{number}", "backups").wait_ready()
        execution = create_backup_execution(files_job)
        enqueue_backup(execution)  # autocommit: sent at once
        time.sleep(draw.uniform(0.0, 4.0))
        victim.kill()
        execution.refresh_from_db()
        tally.strike(execution.status)
        recover()
        tally.add(number, violations())
    tally.close()
    assert BackupExecution.objects.filter(status="completed").count() >= rounds()


def test_a_worker_killed_at_a_random_point_of_a_restore(files_job, workers, broker, tmp_path):
    tally = Tally("worker killed during a restore")
    backup = claimed_backup(files_job)
    assert back_up(backup), backup.error_message
    workers("cleaner", "cleanup")
    for number in range(rounds()):
        draw = rng(tally.fault, number)
        victim = workers(f"restore-victim-{number}", "backups").wait_ready()
        target = tmp_path / f"restored-{number}"
        restore = restore_execution(backup, target_path=str(target))
        enqueue_restore(restore)
        time.sleep(draw.uniform(0.0, 0.5))
        victim.kill()
        restore.refresh_from_db()
        tally.strike(restore.status)
        recover()
        restore.refresh_from_db()
        found = violations()
        if restore.status == BackupExecution.Status.COMPLETED:
            if not (target / "source" / "orders.csv").exists() and not any(
                target.rglob("orders.csv")
            ):
                found.append(f"restore {restore.pk} completed but {target} lacks the files")
        elif not restore.error_message:
            found.append(f"restore {restore.pk} is {restore.status} without a reason")
        tally.add(number, found)
    tally.close()


def test_a_worker_killed_at_a_random_point_of_a_verification(files_job, source, workers, broker):
    tally = Tally("worker killed during a verification")
    for index in range(6):  # a verification of about a second, for the kill to fall in
        (source / "data" / f"more{index}.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    files_job.backup_options = {"compression": "zstd", "compression_level": 1}
    files_job.save()
    backup = claimed_backup(files_job)
    assert back_up(backup), backup.error_message
    for number in range(rounds()):
        draw = rng(tally.fault, number)
        victim = workers(f"verify-victim-{number}", "backups").wait_ready()
        enqueue_verification(backup)  # autocommit: sent at once
        time.sleep(draw.uniform(0.0, 0.6))
        victim.kill()
        backup.refresh_from_db()
        tally.strike(backup.metadata["verification"]["status"])
        recover()
        backup.refresh_from_db()
        found = violations()
        outcome = backup.metadata["verification"]
        if outcome["status"] != "passed":
            found.append(f"the verification ended {outcome}")
        tally.add(number, found)
    tally.close()
