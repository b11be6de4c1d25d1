"""Fault: the metadata database drops every connection of the workers (as a PostgreSQL restart
or a failover does) at a random moment of a backup. Once the reaper has passed, nothing is left
queued or running and every completed backup is whole; the worker goes on serving."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import enqueue_backup
from tests.support.faults import Tally, recover, rng, rounds, violations

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.django_db(transaction=True)]


def _cut_every_other_connection() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def test_connections_cut_mid_backup_leave_nothing_stuck(files_job, workers, broker):
    tally = Tally("metadata connections cut during a backup")
    worker = workers("survivor").wait_ready()
    for number in range(rounds()):
        draw = rng(tally.fault, number)
        execution = create_backup_execution(files_job)
        enqueue_backup(execution)
        time.sleep(draw.uniform(0.0, 4.0))
        execution.refresh_from_db()
        at_the_cut = execution.status
        tally.strike(at_the_cut)
        cut = _cut_every_other_connection()
        # A run that was reading or writing ends on its own, failed with the reason, recorded
        # on a new connection; one the cut caught elsewhere is left to the reaper.
        deadline = time.monotonic() + 10
        while execution.status == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            execution.refresh_from_db()
        tally.strike(f"then {execution.status}")
        recover()
        found = violations()
        if cut == 0 and at_the_cut == BackupExecution.Status.RUNNING:
            # A worker holds no connection between runs; one in the middle of a run does.
            found.append("no connection of the running worker was cut")
        tally.add(number, found)
    # The worker still takes work once its connections were cut.
    after = create_backup_execution(files_job)
    enqueue_backup(after)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after.refresh_from_db()
        if after.status in (BackupExecution.Status.COMPLETED, BackupExecution.Status.FAILED):
            break
        time.sleep(0.2)
    assert after.status == BackupExecution.Status.COMPLETED, (
        after.error_message,
        worker.log()[-2000:],
    )
    tally.close()
