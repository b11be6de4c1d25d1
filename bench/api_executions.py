"""Benchmark: ``GET /api/executions`` over a table of 100,000 executions.

    .venv/bin/python bench/api_executions.py [--rows 100000] [--requests 200] [--page-size 50]

Creates (once) a scratch metadata database ``dataguardian_bench_api`` on the local PostgreSQL
(127.0.0.1:5432, user postgres), migrates it and fills it with ``--rows`` executions of one
job, two chunks each for the completed ones (bulk inserts). Then sends ``--requests``
authenticated requests through Django's test client (the whole stack: middleware, token
authentication, filters, pagination, serialization; no network), alternating the first page,
a deep page and a status filter, and prints p50/p95/max latency. Target: p95 < 100 ms.
Drop the database with ``--drop``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import _scratch

DB = "dataguardian_bench_api"


def _fill(rows: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from executions.models import BackupChunk, BackupExecution
    from tests.factories import BackupJobFactory

    if BackupExecution.objects.count() >= rows:
        return
    job = BackupJobFactory.create()
    now = timezone.now()
    statuses = ["completed"] * 8 + ["failed", "cancelled"]
    batch = 5000
    for start in range(0, rows, batch):
        executions = BackupExecution.objects.bulk_create(
            BackupExecution(
                job=job,
                datasource_id=job.datasource_id,
                storage_location_id=job.storage_location_id,
                status=statuses[i % len(statuses)],
                created_at=now - timedelta(minutes=i),
                compressed_size_bytes=1000 + i,
            )
            for i in range(start, min(rows, start + batch))
        )
        BackupChunk.objects.bulk_create(
            BackupChunk(
                execution=e,
                chunk_number=n,
                file_path=f"x/backup.part{n:03d}",
                size_bytes=1,
                checksum="0" * 64,
            )
            for e in executions
            if e.status == "completed"
            for n in (1, 2)
        )
        print(f"  {min(rows, start + batch)} rows", file=sys.stderr)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE backup_executions; ANALYZE backup_chunks")


def _measure(requests: int, page_size: int) -> dict[str, list[float]]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user, _ = get_user_model().objects.get_or_create(username="bench")
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient(SERVER_NAME="localhost")  # a host ALLOWED_HOSTS accepts by default
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    urls = [
        f"/api/executions?page_size={page_size}",
        f"/api/executions?page_size={page_size}&page=1000",
        f"/api/executions?page_size={page_size}&status=failed",
    ]
    client.get(urls[0])  # warm-up: imports, URL resolver, connection
    timings: dict[str, list[float]] = {url: [] for url in urls}
    for i in range(requests):
        url = urls[i % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        timings[url].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
    return timings


def _percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    if args.drop:
        _scratch.drop(DB)
        return
    _scratch.open_database(DB, "/tmp/dataguardian-bench-api")
    _fill(args.rows)
    by_url = _measure(args.requests, args.page_size)
    for url, values in by_url.items():
        url_p50, url_p95 = _percentiles(values)
        print(f"  {url}: p50 {url_p50:.1f} ms, p95 {url_p95:.1f} ms")
    timings = sorted(t for values in by_url.values() for t in values)
    p50, p95 = _percentiles(timings)
    print(
        f"GET /api/executions over {args.rows} rows, {args.requests} requests, "
        f"page_size {args.page_size}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"max {timings[-1]:.1f} ms (target p95 < 100 ms: {'met' if p95 < 100 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
