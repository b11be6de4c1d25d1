"""Two ticks running at the same moment on PostgreSQL queue each slot once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from executions import tasks
from executions.models import BackupExecution
from executions.scheduler import TickResult
from tests.support.scheduling import NOW, make_due_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_ticks_create_one_execution_per_due_job(broker):
    assert connection.vendor == "postgresql"
    jobs = [make_due_job(NOW.replace(minute=0, second=0)) for _ in range(5)]
    barrier = threading.Barrier(2)
    results: list[TickResult] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(tasks.tick(now=NOW))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sum(r.queued for r in results) == len(jobs)
    assert BackupExecution.objects.count() == len(jobs)
    assert broker.count("backups:5") == len(jobs)
