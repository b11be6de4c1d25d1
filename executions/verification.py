"""Verified backups: restore a backup into a scratch target, check what came back, record it.

A backup that cannot be restored is no backup. ``verify_backup`` restores a completed backup
with the same two-pass reading as a real restore (every chunk hashed before anything reaches
the target, hashed again while it streams) into a target that exists only for the check:

- PostgreSQL: a database ``dgverify_<random>`` on the verification server (the setting
  ``verification.postgres_server``, else the backup's own server and credentials);
- MySQL / MariaDB: a schema ``dgverify_<random>`` likewise (``verification.mysql_server``);
- SQLite and files: a directory under ``system.temp_directory``.

The scratch target is dropped whatever happens. The outcome is written to the backup
execution's ``metadata["verification"]``; a failure also records a critical
``verification_failed`` notification.

Row counts: the engines record ``rows_approximate``, the sum of the catalogue's estimates
(PostgreSQL ``reltuples``, InnoDB ``TABLE_ROWS``), not an exact count. The restored tables are
counted exactly and the check fails only when they hold fewer than ``1 - ROW_TOLERANCE`` of
the estimate: it catches a table that came back empty or a dump cut short, not a handful of
missing rows, and it does not fail because statistics were stale.
"""

from __future__ import annotations

import logging
import os
import secrets as _random
import shutil
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from dataguardian import system_settings
from datasources.engines.mysql import option_file
from datasources.engines.process import run_tool, secret_file, tool_env
from executions.backup import scrub
from executions.models import BackupExecution
from executions.pipeline.compression import open_decompressed
from executions.restore import (
    ChunkReader,
    RestoreProgress,
    expected_chunks,
    read_manifest,
    verify_chunks,
)
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify
from storage.adapters.base import StorageAdapter

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "dgverify_"
# The restored rows may fall this far below the backup's estimate before the check fails.
ROW_TOLERANCE = 0.5
# A user assertion runs at most this long in the scratch database.
ASSERTION_TIMEOUT_SECONDS = 60
FALSY = {"", "0", "f", "false", "no", "null", "none"}


class VerificationRefused(Exception):
    """The execution cannot be verified (not a completed backup)."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Scratch:
    """Where the backup is restored for the check, and how to inspect it there."""

    config: dict[str, Any]
    inspect: Callable[[BackupExecution, dict[str, Any], list[str]], list[Check]]
    secrets: list[str] = field(default_factory=list)


# --- Entry points ---------------------------------------------------------------------------


def verify_backup(backup: BackupExecution) -> dict[str, Any]:
    """Restore ``backup`` into a scratch target, run the checks, record and return the
    outcome (``metadata["verification"]``). Never raises for a failed verification."""
    if not can_verify(backup):
        raise VerificationRefused(
            f"Only completed backups can be verified; execution {backup.id} is a "
            f"{backup.kind} that is {backup.status}."
        )
    assertions = [str(a) for a in backup.job.backup_options.get("verification_assertions") or []]
    checks: list[Check] = []
    error: str | None = None
    restore_seconds: float | None = None
    secrets = _secrets_of(backup)
    temp_dir = Path(system_settings.get("system.temp_directory")) / f"verify-{_random.token_hex(8)}"
    try:
        temp_dir.mkdir(parents=True, mode=0o700)
        with _scratch(backup, temp_dir) as scratch:
            secrets += scratch.secrets
            started = time.monotonic()
            result = _restore_into(backup, scratch.config, temp_dir)
            restore_seconds = round(time.monotonic() - started, 3)
            checks = scratch.inspect(backup, {**scratch.config, **result}, assertions)
    except Exception as exc:
        error = scrub(f"{type(exc).__name__}: {exc}", secrets)
        logger.warning(
            "Verification of backup %s failed: %s\n%s",
            backup.id,
            error,
            scrub("".join(traceback.format_exception(exc)), secrets),
        )
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    passed = error is None and all(check.ok for check in checks)
    verification = {
        "status": "passed" if passed else "failed",
        "checks": [asdict(check) for check in checks],
        "restore_seconds": restore_seconds,
        "verified_at": timezone.now().isoformat(),
        "error": error,
    }
    _record(backup, verification)
    if not passed:
        failed = [check.detail for check in checks if not check.ok]
        notify(
            NotificationType.VERIFICATION_FAILED,
            Severity.CRITICAL,
            f"Verification of a backup of {backup.datasource.name} failed",
            error or "; ".join(failed),
            entity_type=EntityType.BACKUP_EXECUTION,
            entity_id=backup.id,
            metadata={"job_id": str(backup.job_id)},
        )
    return verification


def can_verify(backup: BackupExecution) -> bool:
    return (
        backup.kind == BackupExecution.Kind.BACKUP
        and backup.status == BackupExecution.Status.COMPLETED
    )


def mark_queued(backup: BackupExecution) -> dict[str, Any]:
    """Record that a verification of ``backup`` waits for a worker; returns the marker."""
    marker = {"status": "queued", "queued_at": timezone.now().isoformat()}
    _record(backup, marker)
    return marker


def _record(backup: BackupExecution, verification: dict[str, Any]) -> None:
    # Read-modify-write of the JSON alone: the rest of the row is the backup's own record.
    with transaction.atomic():
        row = BackupExecution.objects.select_for_update().get(pk=backup.pk)
        metadata = {**row.metadata, "verification": verification}
        BackupExecution.objects.filter(pk=backup.pk).update(metadata=metadata)
    backup.metadata = metadata


def _secrets_of(backup: BackupExecution) -> list[str]:
    ds, location = backup.datasource, backup.storage_location
    values = [ds.connection_config.get(k) for k in ds.engine.secret_fields]
    values += [location.config.get(k) for k in location.adapter.secret_fields]
    return [v for v in values if isinstance(v, str) and len(v) >= 3]


# --- Restoring into the scratch target ------------------------------------------------------


class _CountingProgress(RestoreProgress):
    """Counts bytes without writing anywhere: a verification has no execution of its own to
    report progress into, and the backup's record must stay as the backup left it."""

    def add(self, count: int) -> None:
        self.done += count


def _restore_into(
    backup: BackupExecution, config: dict[str, Any], temp_dir: Path
) -> dict[str, Any]:
    location = backup.storage_location
    adapter: StorageAdapter = location.adapter(location.config)
    manifest = read_manifest(adapter, backup)
    chunks = expected_chunks(adapter, backup, manifest)
    progress = _CountingProgress(backup, sum(chunk.size for chunk in chunks))
    verify_chunks(adapter, chunks, manifest, progress)
    work = temp_dir / "work"
    work.mkdir(mode=0o700)
    with ChunkReader(adapter, chunks, progress) as raw:
        algorithm = str((manifest.get("compression") or {}).get("algorithm") or "none")
        stream = open_decompressed(raw, algorithm)
        result: dict[str, Any] = backup.datasource.engine().restore(
            config, {}, stream, work, manifest
        )
        raw.check_complete()
    return result


@contextmanager
def _scratch(backup: BackupExecution, temp_dir: Path) -> Iterator[Scratch]:
    kind = backup.datasource.type
    name = f"{SCRATCH_PREFIX}{_random.token_hex(6)}"
    if kind == "postgres":
        with _postgres_scratch(backup, name) as scratch:
            yield scratch
    elif kind == "mysql":
        with _mysql_scratch(backup, name, temp_dir) as scratch:
            yield scratch
    elif kind == "sqlite":
        yield Scratch({"file_path": str(temp_dir / "restored.sqlite3")}, _inspect_sqlite)
    elif kind == "files":
        yield Scratch({"source_path": str(temp_dir / "tree")}, _inspect_files)
    else:
        raise VerificationRefused(f"Verification of {kind} backups is not available.")


def _server(backup: BackupExecution, key: str) -> tuple[dict[str, Any], str]:
    """The verification server's connection (without database) and the database to connect
    to for creating and dropping the scratch one."""
    configured = system_settings.get(key)
    if configured:
        server = dict(configured)
        return server, str(server.pop("maintenance_database", "") or "postgres")
    own = dict(backup.datasource.connection_config)
    return own, str(own["database"])


def _checks_of_counts(
    backup: BackupExecution, tables: int, rows: int, assertion_checks: list[Check]
) -> list[Check]:
    recorded_tables = backup.metadata.get("tables_backed_up")
    recorded_rows = int(backup.metadata.get("rows_approximate") or 0)
    checks = [
        Check(
            "table_count",
            recorded_tables is None or tables == int(recorded_tables),
            f"{tables} tables restored; the backup recorded {recorded_tables}.",
        )
    ]
    floor = int(recorded_rows * (1 - ROW_TOLERANCE))
    checks.append(
        Check(
            "row_count",
            rows >= floor,
            f"{rows} rows restored; the backup estimated {recorded_rows} (at least {floor} "
            "expected).",
        )
    )
    return checks + assertion_checks


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in FALSY
    return bool(value)


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_connect(config: dict[str, Any], database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=config["host"],
        port=config.get("port") or 5432,
        dbname=database,
        user=config["username"],
        password=config.get("password") or None,
        sslmode="require" if config.get("ssl_enabled") else "prefer",
        connect_timeout=15,
        application_name="dataguardian-verify",
        autocommit=True,
    )


@contextmanager
def _postgres_scratch(backup: BackupExecution, name: str) -> Iterator[Scratch]:
    server, maintenance = _server(backup, "verification.postgres_server")
    config = {**server, "database": name}
    secrets = [str(server.get("password") or "")]
    with _pg_connect(server, maintenance) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield Scratch(config, _inspect_postgres, [s for s in secrets if len(s) >= 3])
    finally:
        with _pg_connect(server, maintenance) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _inspect_postgres(
    backup: BackupExecution, config: dict[str, Any], assertions: list[str]
) -> list[Check]:
    with _pg_connect(config, str(config["database"])) as connection:
        tables = connection.execute(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') "
            "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
        ).fetchall()
        rows = 0
        for schema, table in tables:
            # ONLY: a partitioned parent would count its partitions' rows a second time.
            query = sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            counted = connection.execute(query).fetchone()
            rows += int(counted[0]) if counted else 0
        connection.execute(f"SET statement_timeout = '{ASSERTION_TIMEOUT_SECONDS}s'")
        results = [_pg_assertion(connection, number, a) for number, a in enumerate(assertions, 1)]
    return _checks_of_counts(backup, len(tables), rows, results)


def _pg_assertion(connection: psycopg.Connection[Any], number: int, assertion: str) -> Check:
    name = f"assertion_{number}"
    try:
        # A rolled-back transaction: an assertion may read the scratch copy, never change it.
        with connection.transaction(force_rollback=True):
            rows = connection.execute(assertion.encode()).fetchall()
    except psycopg.Error as exc:
        return Check(name, False, f"{assertion!r} raised: {str(exc).strip()}")
    return _assertion_check(name, assertion, [tuple(row) for row in rows])


def _assertion_check(name: str, assertion: str, rows: list[tuple[Any, ...]]) -> Check:
    if len(rows) != 1 or len(rows[0]) != 1:
        return Check(name, False, f"{assertion!r} must return one value, not {len(rows)} rows.")
    value = rows[0][0]
    ok = _truthy(value)
    return Check(name, ok, f"{assertion!r} returned {value!r}.")


# --- MySQL / MariaDB ------------------------------------------------------------------------


def _mysql_client() -> str:
    return shutil.which("mariadb") or shutil.which("mysql") or "mysql"


def _mysql_run(server: dict[str, Any], temp_dir: Path, query: str, database: str = "") -> str:
    password = str(server.get("password") or "")
    with secret_file(temp_dir, "my.cnf", option_file(server)) as cnf:
        argv = [_mysql_client(), f"--defaults-extra-file={cnf}", "--connect-timeout=15"]
        if server.get("ssl_enabled"):
            argv.append("--ssl")
        if database:
            argv.append(f"--database={database}")
        return run_tool(
            [*argv, "-N", "-B", "-e", query],
            tool_env(temp_dir),
            secrets=[password],
            timeout=ASSERTION_TIMEOUT_SECONDS,
        )


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@contextmanager
def _mysql_scratch(backup: BackupExecution, name: str, temp_dir: Path) -> Iterator[Scratch]:
    server, _ = _server(backup, "verification.mysql_server")
    server.pop("database", None)
    config = {**server, "database": name}
    secrets = [str(server.get("password") or "")]

    def inspect(
        backup: BackupExecution, restored: dict[str, Any], assertions: list[str]
    ) -> list[Check]:
        return _inspect_mysql(backup, server, name, temp_dir, assertions)

    _mysql_run(server, temp_dir, f"CREATE DATABASE {_quote(name)}")
    try:
        yield Scratch(config, inspect, [s for s in secrets if len(s) >= 3])
    finally:
        _mysql_run(server, temp_dir, f"DROP DATABASE IF EXISTS {_quote(name)}")


def _inspect_mysql(
    backup: BackupExecution,
    server: dict[str, Any],
    name: str,
    temp_dir: Path,
    assertions: list[str],
) -> list[Check]:
    # ``name`` is generated here (dgverify_ and hex digits); it needs no escaping as a literal.
    listing = _mysql_run(
        server,
        temp_dir,
        "SELECT TABLE_NAME FROM information_schema.TABLES "  # noqa: S608
        f"WHERE TABLE_SCHEMA = '{name}' AND TABLE_TYPE = 'BASE TABLE'",
    )
    tables = [line for line in listing.splitlines() if line]
    rows = 0
    if tables:
        # Identifiers quoted by _quote; the client has no bind parameters.
        total = " + ".join(f"(SELECT COUNT(*) FROM {_quote(t)})" for t in tables)  # noqa: S608
        rows = int(_mysql_run(server, temp_dir, f"SELECT {total}", name).strip() or 0)
    results = []
    for number, assertion in enumerate(assertions, 1):
        check_name = f"assertion_{number}"
        try:
            output = _mysql_run(server, temp_dir, assertion, name)
        except Exception as exc:
            results.append(Check(check_name, False, f"{assertion!r} raised: {exc}"))
            continue
        lines = [tuple(line.split("\t")) for line in output.splitlines()]
        results.append(_assertion_check(check_name, assertion, lines))
    return _checks_of_counts(backup, len(tables), rows, results)


# --- SQLite ---------------------------------------------------------------------------------


def _inspect_sqlite(
    backup: BackupExecution, config: dict[str, Any], assertions: list[str]
) -> list[Check]:
    path = Path(config["file_path"])
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        tables = [
            str(row[0])
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            )
        ]
        rows = 0
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            try:
                (count,) = connection.execute(f"SELECT count(*) FROM {quoted}").fetchone()  # noqa: S608
            except sqlite3.OperationalError:
                continue  # a virtual table whose module is not loaded here, as at backup time
            rows += int(count)
        results = []
        for number, assertion in enumerate(assertions, 1):
            try:
                found = [tuple(row) for row in connection.execute(assertion).fetchall()]
            except sqlite3.Error as exc:
                results.append(Check(f"assertion_{number}", False, f"{assertion!r} raised: {exc}"))
                continue
            results.append(_assertion_check(f"assertion_{number}", assertion, found))
    finally:
        connection.close()
    integrity_check = Check(
        "integrity_check", integrity == ["ok"], f"PRAGMA integrity_check: {'; '.join(integrity)}"
    )
    return [integrity_check, *_checks_of_counts(backup, len(tables), rows, results)]


# --- Files ----------------------------------------------------------------------------------


def _inspect_files(
    backup: BackupExecution, config: dict[str, Any], assertions: list[str]
) -> list[Check]:
    """Every regular file below the restored tree counted and read to its end."""
    root = Path(config["source_path"])
    files = 0
    unreadable: list[str] = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            files += 1
            try:
                with path.open("rb") as handle:
                    while handle.read(1024 * 1024):
                        pass
            except OSError:
                unreadable.append(str(path.relative_to(root)))
    expected = backup.files_count
    return [
        Check(
            "file_count",
            expected is None or files == expected,
            f"{files} files restored; the backup recorded {expected}.",
        ),
        Check(
            "tree_readable",
            not unreadable,
            "Every restored file reads to its end."
            if not unreadable
            else f"{len(unreadable)} files could not be read: {', '.join(unreadable[:10])}",
        ),
    ]
