"""Benchmark: DataGuardian's PostgreSQL restore against the raw shell pipeline.

    .venv/bin/python bench/restore_postgres.py [--runs 3] [--db dgbench_large]

Reuses (or builds) the benchmark database of ``backup_postgres.py``, takes one DataGuardian
backup of it (zstd level 3, single thread, local storage in a temporary directory), then,
interleaving the two and alternating which goes first so neither always meets a warmer cache,
restores that artifact ``--runs`` times each into a freshly created, empty database:

- reference: ``zstd -d < artifact | pg_restore -d <db> --no-owner``, with the pg_restore of
  the server's major version (``/usr/lib/postgresql/<major>/bin/pg_restore``, the one
  DataGuardian picks for a dump of the same server);
- DataGuardian: ``restore_execution`` + ``perform_restore`` in a child process, timed around
  ``perform_restore`` (a worker is long-running, so Django's start-up is not part of a restore;
  the wall time of the whole one-off process is printed too), with its peak RSS.

DataGuardian's restore reads the stored artifact twice: a verification pass hashes every chunk
before anything reaches the target, then the restore pass streams it into pg_restore. The
verification pass is timed on its own and printed with the split of the restore pass.

Prints the median times and their ratio. Target: ratio <= 1.10. The scratch databases, the
metadata database and the temporary directory are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backup_postgres import ROOT, backup_once, build_database, setup_metadata, sql

META_DB = "dataguardian_bench_restore"
REDIS_URL = "redis://127.0.0.1:6379/5"
SIZES_GB = {"dgbench_small": 0.25, "dgbench_large": 1.0}
REFERENCE_DB = "dgbench_restore_reference"
DATAGUARDIAN_DB = "dgbench_restore_dataguardian"


def artifact_chunks(storage: Path, backup_path: str) -> list[Path]:
    manifest = json.loads((storage / backup_path / "manifest.json").read_text())
    return [storage / backup_path / chunk["name"] for chunk in manifest["chunks"]]


def server_pg_restore() -> Path:
    version_num = int(str(sql("SHOW server_version_num")[0][0]))
    path = Path(f"/usr/lib/postgresql/{version_num // 10000}/bin/pg_restore")
    if not path.exists():
        raise SystemExit(f"{path} is not installed; it must match the server's major version.")
    return path


def fresh_database(name: str) -> None:
    sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    sql(f"CREATE DATABASE {name}")


def run_reference(chunks: list[Path], pg_restore: Path) -> float:
    fresh_database(REFERENCE_DB)
    try:
        if len(chunks) == 1:
            source = f"zstd -d -q < {shlex.quote(str(chunks[0]))}"
        else:
            source = "cat " + " ".join(shlex.quote(str(c)) for c in chunks) + " | zstd -d -q"
        started = time.monotonic()
        subprocess.run(
            [
                "bash",
                "-c",
                f"set -o pipefail; {source} | {pg_restore} -h 127.0.0.1 -U postgres "
                f"-d {REFERENCE_DB} --no-owner",
            ],
            check=True,
        )
        return time.monotonic() - started
    finally:
        sql(f"DROP DATABASE IF EXISTS {REFERENCE_DB} WITH (FORCE)")


def run_dataguardian(backup_path: str, env: dict[str, str]) -> dict[str, object]:
    fresh_database(DATAGUARDIAN_DB)
    try:
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "bench/_restore_once.py", backup_path, DATAGUARDIAN_DB],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        elapsed = time.monotonic() - started
    finally:
        sql(f"DROP DATABASE IF EXISTS {DATAGUARDIAN_DB} WITH (FORCE)")
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    if not result["ok"]:
        raise SystemExit(f"DataGuardian restore failed: {result['error']}")
    result["wall_seconds"] = elapsed
    return result


def median(results: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in results)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=sorted(SIZES_GB), default="dgbench_large")
    args = parser.parse_args()

    size = build_database(args.db, SIZES_GB[args.db])
    print(f"{args.db}: {size / 1024**3:.2f} GiB on disk", flush=True)
    pg_restore = server_pg_restore()
    print(f"reference pg_restore: {pg_restore}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="dgbench-restore-"))
    storage = work / "storage"
    storage.mkdir()
    try:
        env, jobs = setup_metadata(
            storage, [args.db], meta_db=META_DB, redis_url=REDIS_URL, fresh=True
        )
        backup = backup_once(jobs[args.db], env)
        backup_path = str(backup["path"])
        chunks = artifact_chunks(storage, backup_path)
        stored = sum(c.stat().st_size for c in chunks)
        print(
            f"backup: {backup['raw_bytes']} B dump, {stored} B stored in {len(chunks)} "
            f"chunk(s), taken in {float(backup['backup_seconds']):.2f} s",  # type: ignore[arg-type]
            flush=True,
        )
        reference: list[float] = []
        ours: list[dict[str, object]] = []
        for run in range(args.runs):
            # Alternate which goes first, so neither always meets a warmer cache.
            order = ["ref", "dg"] if run % 2 == 0 else ["dg", "ref"]
            for which in order:
                if which == "ref":
                    reference.append(run_reference(chunks, pg_restore))
                    print(f"run {run + 1} reference: {reference[-1]:.2f} s", flush=True)
                    continue
                result = run_dataguardian(backup_path, env)
                ours.append(result)
                print(
                    f"run {run + 1} DataGuardian: {float(result['restore_seconds']):.2f} s "  # type: ignore[arg-type]
                    f"({float(result['wall_seconds']):.2f} s with process start-up; "  # type: ignore[arg-type]
                    f"verify {float(result['verify_seconds']):.2f} s, "  # type: ignore[arg-type]
                    f"feeding pg_restore {float(result['feed_seconds']):.2f} s of which "  # type: ignore[arg-type]
                    f"{float(result['feed_read_seconds']):.2f} s producing data), "  # type: ignore[arg-type]
                    f"peak RSS {int(result['peak_rss_kb']) / 1024:.1f} MiB, "  # type: ignore[call-overload]
                    f"{result['tool']}",
                    flush=True,
                )
    finally:
        sql(f"DROP DATABASE IF EXISTS {REFERENCE_DB} WITH (FORCE)")
        sql(f"DROP DATABASE IF EXISTS {DATAGUARDIAN_DB} WITH (FORCE)")
        sql(f"DROP DATABASE IF EXISTS {META_DB} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)

    ref = statistics.median(reference)
    dg = median(ours, "restore_seconds")
    verify = median(ours, "verify_seconds")
    feed = median(ours, "feed_seconds")
    produce = median(ours, "feed_read_seconds")
    print()
    print(f"median reference (zstd -d < file | pg_restore --no-owner): {ref:.2f} s")
    print(f"median DataGuardian restore:                              {dg:.2f} s")
    print(
        f"  (whole one-off process incl. Django start-up:           "
        f"{median(ours, 'wall_seconds'):.2f} s, ratio {median(ours, 'wall_seconds') / ref:.3f})"
    )
    print(
        f"  of which verification pass (reads and hashes the artifact once more, before "
        f"pg_restore starts): {verify:.2f} s"
    )
    print(
        f"  restore pass (feeding pg_restore until it exits): {feed:.2f} s, of which "
        f"{produce:.2f} s reading, hashing and decompressing, the rest blocked on pg_restore"
    )
    print(
        f"  restore without the verification pass: {dg - verify:.2f} s, ratio {(dg - verify) / ref:.3f}"
    )
    print(f"peak RSS: {max(int(r['peak_rss_kb']) for r in ours) / 1024:.1f} MiB")  # type: ignore[call-overload]
    print(f"time ratio DataGuardian / reference: {dg / ref:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
