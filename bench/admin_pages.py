"""Benchmark: the admin's executions list and dashboard over 100,000 executions.

    .venv/bin/python bench/admin_pages.py [--rows 100000] [--jobs 10] [--requests 60]

Creates (once) a scratch metadata database ``dataguardian_bench_admin`` on the local
PostgreSQL (127.0.0.1:5432, user postgres), migrates it and fills it with ``--rows``
executions spread over ``--jobs`` enabled jobs in different time zones (one INSERT … SELECT
generate_series per job, as the tests' ``insert_executions``): each job has a backup every
``rows / jobs`` slots of the last year, so the dashboard's 30-day strips aggregate about a
twelfth of the table. Then a superuser, logged in through Django's test client (the whole
stack: sessions, middleware, the theme's templates; no network), requests three pages in
turn, ``--requests`` times each, the order rotating every round:

- the executions list (``/admin/executions/backupexecution/``), unfiltered, first page;
- the dashboard (``/admin/``);
- the reference: the password-change page, an admin page that reads no table of ours.

Prints p50, p95 and max wall time per page, the median CPU time the Django process spent on
it (the part other processes' load does not inflate; the database's own time is not in it)
and the machine's load average. Target: p95 < 150 ms for the list and the dashboard.
Drop the database with ``--drop``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import _scratch

DB = "dataguardian_bench_admin"
TARGET_MS = 150
ZONES = ["UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Auckland"]


def _fill(rows: int, jobs: int) -> None:
    from executions.models import BackupExecution
    from tests.factories import BackupJobFactory, StorageLocationFactory
    from tests.support.many_executions import insert_executions

    if BackupExecution.objects.count() >= rows:
        return
    per_job = rows // jobs
    spacing = max(1, 365 * 24 * 60 // per_job)  # minutes between two runs: a year in all
    storage = StorageLocationFactory.create(available_space_gb=500)
    for n in range(jobs):
        job = BackupJobFactory.create(
            name=f"bench job {n}",
            storage_location=storage,
            schedule_timezone=ZONES[n % len(ZONES)],
            schedule_cron="0 * * * *",
        )
        insert_executions(job, per_job, spacing_minutes=spacing)
        print(f"  {(n + 1) * per_job} rows", file=sys.stderr)


def _measure(requests: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")  # a host ALLOWED_HOSTS accepts by default
    client.force_login(user)
    pages = {
        "executions list": "/admin/executions/backupexecution/",
        "dashboard": "/admin/",
        "reference (password change)": "/admin/password_change/",
    }
    for url in pages.values():  # warm-up: imports, templates, URL resolver, connection
        client.get(url)
    timings: dict[str, list[float]] = {name: [] for name in pages}
    cpu: dict[str, list[float]] = {name: [] for name in pages}
    names = list(pages)
    for i in range(requests):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(pages[name])
            timings[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200, (name, response.status_code)
    return timings, cpu


def _percentiles(timings: list[float]) -> tuple[float, float, float]:
    ordered = sorted(timings)
    p95 = ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]
    return statistics.median(ordered), p95, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    if args.drop:
        _scratch.drop(DB)
        return
    _scratch.open_database(DB, "/tmp/dataguardian-bench-admin")
    _fill(args.rows, args.jobs)
    results, cpu = _measure(args.requests)
    load = os.getloadavg()[0]
    print(
        f"{args.rows} executions, {args.jobs} jobs, {args.requests} requests per page "
        f"({os.cpu_count()} CPUs, load average {load:.1f}):"
    )
    for name, values in results.items():
        p50, p95, worst = _percentiles(values)
        cpu_p50 = statistics.median(cpu[name])
        verdict = ""
        if not name.startswith("reference"):
            verdict = f" (target p95 < {TARGET_MS} ms: {'met' if p95 < TARGET_MS else 'MISSED'})"
        print(
            f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms; "
            f"Python CPU p50 {cpu_p50:.1f} ms{verdict}"
        )


if __name__ == "__main__":
    main()
