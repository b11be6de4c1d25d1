"""Time one scheduler tick over many jobs and count its SQL queries.

Creates its own PostgreSQL database (``dg_bench_enqueue_tick`` unless ``BENCH_DATABASE``
names another), migrates it, inserts 10,000 enabled jobs of which 1,000 are due, runs
``enqueue_due_jobs`` once, then does the same with 20,000 jobs (2,000 due). The query count
must not grow with the number of due jobs. The Celery messages are not sent to a broker:
``run_backup.apply_async`` is replaced by a counter, and the output says so.

    .venv/bin/python bench/enqueue_tick.py        # PostgreSQL on 127.0.0.1:5432, user postgres
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import psycopg

NAME = os.environ.get("BENCH_DATABASE", "dg_bench_enqueue_tick")
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
os.environ["DATABASE_URL"] = f"{SERVER}/{NAME}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")  # never contacted
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NOW = datetime(2026, 6, 15, 12, 0, 30, tzinfo=UTC)
CRONS = ["0 * * * *", "*/15 * * * *", "30 2 * * *", "0 3 * * 1-5"]
ZONES = ["UTC", "Europe/Berlin", "America/Sao_Paulo", "America/New_York", "Asia/Tokyo"]


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{NAME}"')


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


def populate(total: int, due: int) -> None:
    """``total`` enabled jobs, ``due`` of them due at NOW, in bulk inserts."""
    from datasources.models import Datasource
    from executions.models import BackupExecution
    from jobs.models import BackupJob
    from storage.models import StorageLocation

    BackupExecution.objects.all().delete()
    BackupJob.objects.all().delete()
    datasource = Datasource.objects.first() or Datasource.objects.create(
        name="bench", type="files", connection_config={"source_path": "/srv"}
    )
    location = StorageLocation.objects.first() or StorageLocation.objects.create(
        name="bench", type="local", config={"path": "/var/backups"}
    )
    jobs = [
        BackupJob(
            name=f"job {index}",
            datasource=datasource,
            storage_location=location,
            schedule_cron=CRONS[index % len(CRONS)],
            schedule_timezone=ZONES[index % len(ZONES)],
            next_execution_at=(
                NOW - timedelta(minutes=index % 30) if index < due else NOW + timedelta(hours=1)
            ),
        )
        for index in range(total)
    ]
    BackupJob.objects.bulk_create(jobs, batch_size=5000)
    # A tenth of the due jobs still have a run going, so the overlap path is measured too.
    BackupExecution.objects.bulk_create(
        BackupExecution(
            job=job,
            datasource=datasource,
            storage_location=location,
            status=BackupExecution.Status.RUNNING,
        )
        for job in jobs[: due // 10]
    )


def tick() -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from executions.scheduler import enqueue_due_jobs
    from executions.tasks import run_backup

    sent = mock.Mock()
    with (
        mock.patch.object(run_backup, "apply_async", sent),
        CaptureQueriesContext(connection) as queries,
    ):
        started = time.perf_counter()
        result = enqueue_due_jobs(now=NOW)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "queries": len(queries),
        "statements": " ".join(q["sql"].split(None, 1)[0] for q in queries.captured_queries),
        "messages": sent.call_count,
        "result": result,
    }


def main() -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        print("Messages are counted, not sent: run_backup.apply_async is patched out.")
        for total, due in ((10_000, 1_000), (20_000, 2_000)):
            populate(total, due)
            figures = tick()
            print(
                f"{total:>6} jobs, {due:>5} due: {figures['seconds']:.3f} s, "
                f"{figures['queries']} SQL queries ({figures['statements']}), "
                f"{figures['messages']} messages counted, {figures['result']}"
            )
    finally:
        drop_database()


if __name__ == "__main__":
    main()
