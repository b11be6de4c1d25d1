"""The scratch targets per engine: create, inspect, drop."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from datasources.engines.mysql import option_file
from datasources.engines.postgres.clients import connection_arguments
from datasources.engines.process import run_tool, secret_file, tool_env
from datasources.engines.sqlite import count_tables_and_rows
from executions.models import BackupExecution
from executions.verification.checks import (
    ASSERTION_TIMEOUT_SECONDS,
    Check,
    Scratch,
    assertion_check,
    checks_of_counts,
    server_of,
)

# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_connect(config: dict[str, Any], database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        **connection_arguments(config, database),
        connect_timeout=15,
        application_name="dataguardian-verify",
        autocommit=True,
    )


@contextmanager
def postgres_scratch(backup: BackupExecution, name: str) -> Iterator[Scratch]:
    server, maintenance = server_of(backup, "verification.postgres_server")
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
    return checks_of_counts(backup, len(tables), rows, results)


def _pg_assertion(connection: psycopg.Connection[Any], number: int, assertion: str) -> Check:
    name = f"assertion_{number}"
    try:
        # A rolled-back transaction: an assertion may read the scratch copy, never change it.
        with connection.transaction(force_rollback=True):
            rows = connection.execute(assertion.encode()).fetchall()
    except psycopg.Error as exc:
        return Check(name, False, f"{assertion!r} raised: {str(exc).strip()}")
    return assertion_check(name, assertion, [tuple(row) for row in rows])


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
def mysql_scratch(backup: BackupExecution, name: str, temp_dir: Path) -> Iterator[Scratch]:
    server, _ = server_of(backup, "verification.mysql_server")
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
        results.append(assertion_check(check_name, assertion, lines))
    return checks_of_counts(backup, len(tables), rows, results)


# --- SQLite ---------------------------------------------------------------------------------


def inspect_sqlite(
    backup: BackupExecution, config: dict[str, Any], assertions: list[str]
) -> list[Check]:
    path = Path(config["file_path"])
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        # Counted as at backup time, so the two figures compare.
        tables, rows = count_tables_and_rows(connection)
        results = []
        for number, assertion in enumerate(assertions, 1):
            try:
                found = [tuple(row) for row in connection.execute(assertion).fetchall()]
            except sqlite3.Error as exc:
                results.append(Check(f"assertion_{number}", False, f"{assertion!r} raised: {exc}"))
                continue
            results.append(assertion_check(f"assertion_{number}", assertion, found))
    finally:
        connection.close()
    integrity_check = Check(
        "integrity_check", integrity == ["ok"], f"PRAGMA integrity_check: {'; '.join(integrity)}"
    )
    return [integrity_check, *checks_of_counts(backup, tables, rows, results)]


# --- Files ----------------------------------------------------------------------------------


def inspect_files(
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
