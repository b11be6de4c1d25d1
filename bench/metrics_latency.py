"""Benchmark: ``GET /metrics`` over 10,000 jobs and 1,000,000 executions.

    .venv/bin/python bench/metrics_latency.py [--jobs 10000] [--executions 1000000] [--scrapes 50]

Creates (once) a scratch metadata database ``dataguardian_bench_metrics`` on the local
PostgreSQL (127.0.0.1:5432, user postgres), migrates it and fills it with ``--jobs`` jobs over
200 datasources and 10 storage locations, ``--executions`` backup executions spread evenly
over the jobs (one in ten failed) and ten health checks per datasource, with set-based
``INSERT … SELECT generate_series``; the jobs' record fields are then filled from their
executions as the runs fill them (last attempt, last completed backup, failure streak, and a
passed verification with a restore time for every other job). Then it sends ``--scrapes``
scrapes with a bearer token through Django's test client (the whole stack, no network; the
broker is the Redis of REDIS_URL when set, else the file-system broker) and prints p50, p95
and max latency. Target: p95 < 200 ms. Drop the database with ``--drop``.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time

import _scratch

DB = "dataguardian_bench_metrics"
DATASOURCES = 200
LOCATIONS = 10
TOKEN = secrets.token_urlsafe(16)
CRONS = ["0 3 * * *", "0 * * * *", "*/15 * * * *", "30 2 * * 0", "0 */6 * * *"]


def _fill(jobs: int, executions: int) -> None:
    from django.db import connection

    from datasources.models import Datasource
    from jobs.models import BackupJob
    from storage.models import StorageLocation

    if BackupJob.objects.count() >= jobs:
        return
    datasources = Datasource.objects.bulk_create(
        Datasource(
            name=f"database {i}",
            type="postgres",
            connection_config={"host": "127.0.0.1", "port": 5432, "database": f"app{i}"},
            status=["healthy", "warning", "critical", "unknown"][i % 4],
        )
        for i in range(DATASOURCES)
    )
    locations = StorageLocation.objects.bulk_create(
        StorageLocation(
            name=f"storage {i}",
            type="local",
            config={"path": f"/var/backups/{i}"},
            available_space_gb=100 + i if i % 2 else None,
            status="healthy",
        )
        for i in range(LOCATIONS)
    )
    BackupJob.objects.bulk_create(
        (
            BackupJob(
                name=f"job {i:05d}",
                datasource=datasources[i % DATASOURCES],
                storage_location=locations[i % LOCATIONS],
                schedule_cron=CRONS[i % len(CRONS)],
                schedule_timezone="UTC",
                rpo_target_minutes=60 if i % 3 == 0 else None,
                rto_target_minutes=5 if i % 4 == 0 else None,
            )
            for i in range(jobs)
        ),
        batch_size=2000,
    )
    per_job = max(1, executions // jobs)
    with connection.cursor() as cursor:
        print(f"  inserting {per_job * jobs} executions", file=sys.stderr)
        cursor.execute(
            """
            INSERT INTO backup_executions (
                id, status, backup_type, metadata, created_at, started_at, finished_at, kind,
                trigger, attempt, worker, progress, datasource_id, job_id, storage_location_id,
                size_bytes, compressed_size_bytes)
            SELECT gen_random_uuid(), CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'completed' END,
                'full', '{}', now() - g * interval '1 hour',
                now() - g * interval '1 hour' + interval '1 minute',
                now() - g * interval '1 hour' + interval '3 minutes', 'backup', 'scheduled', 1,
                'bench', '{}', j.datasource_id, j.id, j.storage_location_id,
                CASE WHEN g %% 10 = 0 THEN NULL ELSE 10000000 + g END,
                CASE WHEN g %% 10 = 0 THEN NULL ELSE 2000000 + g END
            FROM backup_jobs j CROSS JOIN generate_series(1, %s) g
            """,
            [per_job],
        )
        cursor.execute(
            """
            INSERT INTO health_checks (id, checked_at, status, latency_ms, metadata, datasource_id)
            SELECT gen_random_uuid(), now() - g * interval '1 minute', 'ok', 10 + g, '{}', d.id
            FROM datasources d CROSS JOIN generate_series(1, 10) g
            """
        )
        print("  filling the jobs' record fields", file=sys.stderr)
        cursor.execute(
            """
            UPDATE backup_jobs j SET last_attempt_at = e.finished_at,
                last_attempt_status = e.status
            FROM (SELECT DISTINCT ON (job_id) job_id, finished_at, status FROM backup_executions
                  ORDER BY job_id, finished_at DESC) e
            WHERE e.job_id = j.id;
            UPDATE backup_jobs j SET last_completed_at = e.finished_at, last_completed_id = e.id,
                last_completed_seconds = 120, last_completed_bytes = e.compressed_size_bytes,
                failure_streak = CASE WHEN j.last_attempt_status = 'failed' THEN 1 ELSE 0 END
            FROM (SELECT DISTINCT ON (job_id) job_id, id, finished_at, compressed_size_bytes
                  FROM backup_executions WHERE status = 'completed'
                  ORDER BY job_id, finished_at DESC) e
            WHERE e.job_id = j.id;
            UPDATE backup_jobs SET verified_backup_id = last_completed_id,
                verified_backup_at = last_completed_at, verified_at = last_completed_at,
                last_verification_at = last_completed_at, last_verification_status = 'passed',
                last_verification_backup_id = last_completed_id, last_restore_seconds = 42.5,
                last_restore_bytes = last_completed_bytes
            WHERE right(name, 1) IN ('0', '2', '4', '6', '8');
            ANALYZE;
            """
        )


def _measure(scrapes: int) -> list[float]:
    from django.test import Client, override_settings

    client = Client(SERVER_NAME="localhost")  # a host ALLOWED_HOSTS accepts by default
    header = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    timings = []
    with override_settings(METRICS_TOKEN=TOKEN):
        response = client.get("/metrics", **header)  # warm-up: imports, resolver, connection
        assert response.status_code == 200, response.content[:200]
        print(f"  {len(response.content)} bytes per scrape", file=sys.stderr)
        for _ in range(scrapes):
            started = time.perf_counter()
            response = client.get("/metrics", **header)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:200]
    return sorted(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    if args.drop:
        _scratch.drop(DB)
        return
    _scratch.open_database(DB, "/tmp/dataguardian-bench-metrics")
    _fill(args.jobs, args.executions)
    timings = _measure(args.scrapes)
    p50 = statistics.median(timings)
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    print(
        f"GET /metrics over {args.jobs} jobs and {args.executions} executions, "
        f"{args.scrapes} scrapes: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms "
        f"(target p95 < 200 ms: {'met' if p95 < 200 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
