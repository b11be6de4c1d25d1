"""Several workers at once, on PostgreSQL and on the embedded SQLite: concurrent scheduler
ticks queue each due slot once, concurrent claims of one execution let one worker run it, and
concurrent reaper passes fail a lost run and queue its retry once.

Threads share this process (each with its own connection); processes are separate Python
interpreters on the same database and broker, as the embedded mode's web server, workers and
beat are. On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` and waits its turn
(the busy timeout), so none fails with "database is locked".
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from executions import tasks
from executions.models import BackupExecution, IllegalTransition
from executions.scheduler import STALE_RUNNING_AFTER
from executions.services import create_backup_execution
from tests.factories import BackupJobFactory
from tests.support.processes import ROOT, child_env
from tests.support.scheduling import NOW, make_due_job

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
Status = BackupExecution.Status


def _in_threads(work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(index)`` in WORKERS threads released together; their results, in order."""
    barrier = threading.Barrier(WORKERS)
    results: list[Any] = [None] * WORKERS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


# A child process: wait for the start file, do one thing, print its result as JSON.
CHILD = """
import json, os, sys, time
import django
django.setup()
from datetime import datetime
from executions import tasks
from executions.models import BackupExecution, IllegalTransition
start, what, arg = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(start):
    time.sleep(0.005)
if what == "tick":
    print(json.dumps(tasks.tick(now=datetime.fromisoformat(arg)).queued))
elif what == "reap":
    result = tasks.reap_and_resend(now=datetime.fromisoformat(arg))
    print(json.dumps([result.failed, result.retried]))
else:
    execution = BackupExecution.objects.get(pk=arg)
    try:
        execution.claim(worker=f"worker-{os.getpid()}")
        print(json.dumps(True))
    except IllegalTransition:
        print(json.dumps(False))
"""


def _in_processes(tmp_path, what: str, arg: str) -> list[Any]:
    """Run CHILD in WORKERS processes started together on this test's database and broker."""
    start = tmp_path / "start"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(start), what, arg],
            cwd=ROOT,
            env=child_env(DJANGO_SETTINGS_MODULE="dataguardian.settings", LOG_LEVEL="WARNING"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    # Let every interpreter load Django and wait at the start line, then release them.
    time.sleep(3)
    start.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _lost_running_backup() -> BackupExecution:
    execution = create_backup_execution(BackupJobFactory.create())
    execution.claim(worker="gone")
    return execution


def test_concurrent_ticks_in_threads_queue_each_due_slot_once(broker):
    jobs = [make_due_job(NOW.replace(minute=0, second=0)) for _ in range(5)]
    results = _in_threads(lambda _: tasks.tick(now=NOW))
    assert sum(r.queued for r in results) == len(jobs)
    assert BackupExecution.objects.count() == len(jobs)
    assert broker.count("backups:5") == len(jobs)


def test_concurrent_ticks_in_processes_queue_each_due_slot_once(broker, tmp_path):
    jobs = [make_due_job(NOW.replace(minute=0, second=0)) for _ in range(5)]
    queued = _in_processes(tmp_path, "tick", NOW.isoformat())
    assert sum(queued) == len(jobs)
    assert BackupExecution.objects.count() == len(jobs)
    assert broker.count("backups:5") == len(jobs)


def test_concurrent_claims_in_threads_let_one_worker_run_the_execution():
    execution = create_backup_execution(BackupJobFactory.create())

    def claim(index: int) -> bool:
        mine = BackupExecution.objects.get(pk=execution.pk)
        try:
            mine.claim(worker=f"worker-{index}")
        except IllegalTransition:
            return False
        return True

    assert sorted(_in_threads(claim)) == [False] * (WORKERS - 1) + [True]
    execution.refresh_from_db()
    assert execution.status == Status.RUNNING
    assert execution.attempt == 1


def test_concurrent_claims_in_processes_let_one_worker_run_the_execution(tmp_path):
    execution = create_backup_execution(BackupJobFactory.create())
    claimed = _in_processes(tmp_path, "claim", str(execution.pk))
    assert sorted(claimed) == [False] * (WORKERS - 1) + [True]
    execution.refresh_from_db()
    assert execution.status == Status.RUNNING
    assert execution.attempt == 1


def test_concurrent_reapers_in_threads_fail_a_lost_run_and_retry_it_once(broker):
    lost = _lost_running_backup()
    later = NOW.replace(year=2030) + STALE_RUNNING_AFTER
    results = _in_threads(lambda _: tasks.reap_and_resend(now=later))
    assert sum(r.failed for r in results) == 1
    assert sum(r.retried for r in results) == 1
    lost.refresh_from_db()
    assert lost.status == Status.FAILED
    assert BackupExecution.objects.filter(status=Status.QUEUED).count() == 1


def test_concurrent_reapers_in_processes_fail_a_lost_run_and_retry_it_once(broker, tmp_path):
    lost = _lost_running_backup()
    later = NOW.replace(year=2030) + STALE_RUNNING_AFTER + timedelta(seconds=1)
    results = _in_processes(tmp_path, "reap", later.isoformat())
    assert sum(failed for failed, _ in results) == 1
    assert sum(retried for _, retried in results) == 1
    lost.refresh_from_db()
    assert lost.status == Status.FAILED
    assert BackupExecution.objects.filter(status=Status.QUEUED).count() == 1
