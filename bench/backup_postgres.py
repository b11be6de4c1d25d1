"""Benchmark: DataGuardian's PostgreSQL backup against the raw shell pipeline.

    .venv/bin/python bench/backup_postgres.py [--large-gb 1.0] [--small-gb 0.25] [--runs 3]

Builds two reproducible databases of realistic, not trivially compressible rows on the local
PostgreSQL (127.0.0.1:5432, user postgres), then, interleaving the two so neither gets a warmer
cache, runs on the large one ``--runs`` times each:

- reference: ``pg_dump -Fc -Z0 | zstd -3 -T1 > file; sync``
- DataGuardian: one backup (zstd level 3, single thread, local storage, fsync'd), timed from
  the worker's call of ``perform_backup`` to its return: engine, compression, checksums,
  storage writes, manifest and database updates. A worker is a long-running process, so
  Django's start-up is not part of a backup; the wall time of the whole one-off process,
  start-up included, is printed too.

and prints the median wall times and their ratio, plus DataGuardian's peak RSS on both sizes.
Targets: ratio <= 1.08, peak RSS < 100 MB and within 10 % between the two sizes.
Everything stays on this machine; the databases are kept for re-runs (drop them with
``--drop``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "host=127.0.0.1 port=5432 user=postgres"
META_DB = "dataguardian_bench"
ROW_BYTES = (
    160  # approximate on-disk size of one generated row (measured), used to size the databases
)


def sql(statement: str, dbname: str = "postgres") -> list[tuple[object, ...]]:
    with psycopg.connect(f"{PG} dbname={dbname}", autocommit=True) as conn:
        cur = conn.execute(statement)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def db_size(name: str) -> int:
    return int(sql(f"SELECT pg_database_size('{name}')")[0][0])  # type: ignore[arg-type]


def build_database(name: str, gigabytes: float) -> int:
    if sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        size = db_size(name)
        if size >= gigabytes * 1024**3 * 0.95:
            return size
        sql(f"DROP DATABASE {name} WITH (FORCE)")
    sql(f"CREATE DATABASE {name}")
    rows = int(gigabytes * 1024**3 / ROW_BYTES)
    print(f"building {name}: about {rows:,} rows", flush=True)
    sql(
        """
        CREATE TABLE customers (id int PRIMARY KEY, name text, email text, country text,
                                created_at timestamptz);
        CREATE TABLE events (id bigint PRIMARY KEY, customer_id int, kind text,
                             happened_at timestamptz, amount numeric(12,2), payload text);
        """,
        name,
    )
    sql("SELECT setseed(0.42)", name)
    sql(
        """
        INSERT INTO customers
        SELECT g, 'Customer ' || g, 'user' || g || '@example.' || (ARRAY['com','org','net'])[1 + g % 3],
               (ARRAY['BR','DE','US','FR','JP','IN'])[1 + (g * 7) % 6],
               timestamptz '2020-01-01' + (g % 100000) * interval '17 minutes'
        FROM generate_series(1, 200000) g
        """,
        name,
    )
    batch = 1_000_000
    for start in range(0, rows, batch):
        end = min(rows, start + batch)
        sql(
            f"""
            INSERT INTO events
            SELECT g, 1 + (hashint4(g::int) & 2147483647) % 200000,
                   (ARRAY['login','purchase','refund','view','logout'])[1 + g % 5],
                   timestamptz '2023-01-01' + g * interval '3 seconds',
                   ((hashint4(g::int + 7) & 65535) / 100.0)::numeric(12,2),
                   md5(g::text) || ' ' || (ARRAY['ok','retry','timeout','declined'])[1 + g % 4]
                   || ' ' || substr(md5((g * 31)::text) || md5((g * 17)::text), 1, 40 + g % 60)
            FROM generate_series({start + 1}, {end}) g
            """,
            name,
        )
    sql("VACUUM ANALYZE", name)
    return db_size(name)


def setup_metadata(
    storage: Path,
    databases: Sequence[str] = ("dgbench_small", "dgbench_large"),
    *,
    meta_db: str = META_DB,
    redis_url: str = "redis://127.0.0.1:6379/14",
    fresh: bool = False,
) -> tuple[dict[str, str], dict[str, str]]:
    """A DataGuardian metadata database (with ``fresh``, dropped and created anew) holding one
    backup job per database of ``databases`` into a local location at ``storage``.

    Returns the environment for the child processes and the job ids by database.
    """
    if fresh:
        sql(f"DROP DATABASE IF EXISTS {meta_db} WITH (FORCE)")
    if not sql(f"SELECT 1 FROM pg_database WHERE datname = '{meta_db}'"):
        sql(f"CREATE DATABASE {meta_db}")
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{meta_db}",
        "REDIS_URL": redis_url,
        "DATAGUARDIAN_DATA_DIR": str(storage.parent / "data"),
    }
    child_env = {**os.environ, **env}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=child_env, check=True
    )
    script = f"""
import json
from datasources.models import Datasource
from storage.models import StorageLocation
from jobs.models import BackupJob
loc, _ = StorageLocation.objects.update_or_create(
    name="bench", defaults={{"type": "local", "config": {{"path": "{storage}"}}}})
jobs = {{}}
for db in {list(databases)!r}:
    ds, _ = Datasource.objects.update_or_create(name=db, defaults={{"type": "postgres",
        "connection_config": {{"host": "127.0.0.1", "port": 5432, "database": db,
                               "username": "postgres", "password": ""}}}})
    job, _ = BackupJob.objects.update_or_create(name=db, defaults={{"datasource": ds,
        "storage_location": loc, "schedule_cron": "0 3 * * *",
        "backup_options": {{"compression": "zstd", "compression_level": 3,
                            "compression_threads": 1}}}})
    jobs[db] = str(job.id)
print(json.dumps(jobs))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=child_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    jobs: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return env, jobs


def run_reference(db: str, out_dir: Path) -> float:
    target = out_dir / "reference.dump.zst"
    started = time.monotonic()
    subprocess.run(
        [
            "bash",
            "-c",
            f"set -o pipefail; pg_dump -Fc -Z0 -h 127.0.0.1 -U postgres -d {db} "
            f"| zstd -3 -T1 -q > {target}; sync",
        ],
        check=True,
    )
    elapsed = time.monotonic() - started
    target.unlink()
    return elapsed


def backup_once(job_id: str, env: dict[str, str]) -> dict[str, object]:
    """One DataGuardian backup of ``job_id`` in a fresh process (``_backup_once.py``): its
    figures, plus ``wall_seconds`` of the whole process."""
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "bench/_backup_once.py", job_id],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = time.monotonic() - started
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    if not result["ok"]:
        raise SystemExit(f"DataGuardian backup failed: {result['error']}")
    result["wall_seconds"] = elapsed
    return result


def run_dataguardian(job_id: str, env: dict[str, str], storage: Path) -> dict[str, object]:
    result = backup_once(job_id, env)
    shutil.rmtree(storage / str(result["path"]).split("/")[0], ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large-gb", type=float, default=1.0)
    parser.add_argument("--small-gb", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases")
    args = parser.parse_args()
    if args.drop:
        for name in ("dgbench_small", "dgbench_large", META_DB):
            sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return

    sizes = {
        "dgbench_small": build_database("dgbench_small", args.small_gb),
        "dgbench_large": build_database("dgbench_large", args.large_gb),
    }
    for name, size in sizes.items():
        print(f"{name}: {size / 1024**3:.2f} GiB on disk", flush=True)

    work = Path(tempfile.mkdtemp(prefix="dgbench-"))
    storage = work / "storage"
    storage.mkdir()
    try:
        env, jobs = setup_metadata(storage)
        reference, ours, walls, rss_large = [], [], [], []
        for run in range(args.runs):
            # Alternate which goes first, so neither always meets a warmer cache.
            order = ["ref", "dg"] if run % 2 == 0 else ["dg", "ref"]
            for which in order:
                if which == "ref":
                    reference.append(run_reference("dgbench_large", work))
                    print(f"run {run + 1} reference: {reference[-1]:.2f} s", flush=True)
                else:
                    result = run_dataguardian(jobs["dgbench_large"], env, storage)
                    ours.append(float(result["backup_seconds"]))  # type: ignore[arg-type]
                    walls.append(float(result["wall_seconds"]))  # type: ignore[arg-type]
                    rss_large.append(int(result["peak_rss_kb"]))  # type: ignore[call-overload]
                    print(
                        f"run {run + 1} DataGuardian: {ours[-1]:.2f} s "
                        f"({walls[-1]:.2f} s with process start-up), "
                        f"peak RSS {rss_large[-1] / 1024:.1f} MiB, "
                        f"{result['raw_bytes']} B in, {result['stored_bytes']} B stored",
                        flush=True,
                    )
        small = run_dataguardian(jobs["dgbench_small"], env, storage)
        rss_small = int(small["peak_rss_kb"])  # type: ignore[call-overload]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = statistics.median(ours) / statistics.median(reference)
    rss_l = max(rss_large) / 1024
    rss_s = rss_small / 1024
    print()
    print(
        f"median reference (pg_dump -Fc -Z0 | zstd -3 -T1; sync): "
        f"{statistics.median(reference):.2f} s"
    )
    print(f"median DataGuardian backup:                         {statistics.median(ours):.2f} s")
    print(
        f"  (whole one-off process incl. Django start-up:     {statistics.median(walls):.2f} s, "
        f"ratio {statistics.median(walls) / statistics.median(reference):.3f})"
    )
    print(f"time ratio DataGuardian / reference: {ratio:.3f}  (target <= 1.08)")
    print(
        f"peak RSS: {rss_s:.1f} MiB at {sizes['dgbench_small'] / 1024**3:.2f} GiB, "
        f"{rss_l:.1f} MiB at {sizes['dgbench_large'] / 1024**3:.2f} GiB; "
        f"difference {abs(rss_l - rss_s) / rss_s * 100:.1f} %  (target < 100 MiB, within 10 %)"
    )


if __name__ == "__main__":
    main()
