"""MySQL / MariaDB datasources: backups with ``mariadb-dump`` (or ``mysqldump``)."""

from __future__ import annotations

import fnmatch
import math
import re
import secrets as _random
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from datasources.engines.base import (
    BackupResult,
    BackupStream,
    DatabaseConnectionSchema,
    DatabaseEngine,
    EngineError,
    HealthResult,
    HealthStatus,
    RestoreSource,
    TableSelectionOptions,
    elapsed_ms,
)
from datasources.engines.process import (
    ProcessStream,
    ToolProcess,
    feed_tool,
    run_tool,
    secret_file,
    tool_env,
    tool_path,
)
from datasources.engines.tools import Tool
from datasources.engines.verification import (
    ASSERTION_TIMEOUT_SECONDS,
    SCRATCH_PREFIX,
    Check,
    Inspection,
    Scratch,
    assertion_check,
    scratch_secrets,
)

DUMP_FLAGS = (
    "--single-transaction",
    "--quick",
    "--routines",
    "--triggers",
    "--events",
    "--hex-blob",
    "--default-character-set=utf8mb4",
)


DUMP_TOOL = Tool(("mariadb-dump", "mysqldump"), "mariadb-client", "MySQL / MariaDB backups")
CLIENT_TOOL = Tool(("mariadb", "mysql"), "mariadb-client", "MySQL / MariaDB restores and checks")


class MySQLConnectionSchema(DatabaseConnectionSchema):
    default_port = 3306


class MySQLRestoreOptions(ConfigSchema):
    create_database = serializers.BooleanField(
        required=False,
        label="Create the target database if it is missing",
        help_text="MySQL / MariaDB: create the target database if missing.",
    )


class MySQLEngine(DatabaseEngine):
    name = "mysql"
    label = "MySQL / MariaDB"
    config_schema = MySQLConnectionSchema
    extension = "sql"
    options_schema = TableSelectionOptions
    admin_restore_options = ("create_database",)
    restore_options_schema = MySQLRestoreOptions
    scratch_server_setting = "verification.mysql_server"
    tools = (DUMP_TOOL, CLIENT_TOOL)

    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> AbstractContextManager[BackupStream]:
        return _backup(config, options, temp_dir)

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        return _check_health(config, timeout)

    # --- Restore --------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        return _restore(config, options, source, temp_dir)

    # --- Verification ---------------------------------------------------------------------

    def scratch(self, server: Mapping[str, Any], temp_dir: Path) -> AbstractContextManager[Scratch]:
        return _scratch(server, temp_dir)


def _option_value(value: str) -> str:
    """A double-quoted option-file value; the client unescapes these sequences."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def ssl_flags(config: Mapping[str, Any], tool: str) -> list[str]:
    """The client options ``ssl_enabled`` asks for: MariaDB's tools take ``--ssl``, MySQL's
    ``--ssl-mode=REQUIRED``. ``tool`` is the tool's ``--version`` output or its file name."""
    if not config.get("ssl_enabled"):
        return []
    return ["--ssl"] if "mariadb" in tool.lower() else ["--ssl-mode=REQUIRED"]


def option_file(config: Mapping[str, Any]) -> str:
    connection = MySQLConnectionSchema.parse(config)
    lines = [
        "[client]",
        f"user={_option_value(connection.username)}",
        f"password={_option_value(connection.password)}",
        f"host={_option_value(connection.host)}",
        f"port={connection.port}",
        "protocol=TCP",
    ]
    return "\n".join(lines) + "\n"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class TableInfo:
    name: str
    is_base: bool
    rows: int


def _matches(pattern: str, database: str, table: str) -> bool:
    if "." in pattern:
        db_pattern, pattern = pattern.split(".", 1)
        if not fnmatch.fnmatchcase(database, db_pattern):
            return False
    return fnmatch.fnmatchcase(table, pattern)


def select_tables(
    database: str, tables: Sequence[TableInfo], include: Sequence[str], exclude: Sequence[str]
) -> tuple[list[TableInfo], list[TableInfo]]:
    """(tables to dump, tables to ignore) for the job's patterns."""
    for pattern in include:
        if not any(_matches(pattern, database, table.name) for table in tables):
            raise EngineError(
                f"include_tables pattern {pattern!r} matches no table in database {database!r}."
            )
    wanted = [
        table
        for table in tables
        if not include or any(_matches(p, database, table.name) for p in include)
    ]
    ignored = [t for t in wanted if any(_matches(p, database, t.name) for p in exclude)]
    selected = [t for t in wanted if t not in ignored]
    if include and not selected:
        raise EngineError("exclude_tables leaves none of the included tables to back up.")
    return selected, ignored


@contextmanager
def _backup(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path
) -> Iterator[BackupStream]:
    connection = MySQLConnectionSchema.parse(config)
    secrets = [connection.password]
    database = connection.database
    include = list(options.get("include_tables") or [])
    exclude = list(options.get("exclude_tables") or [])
    dump_tool = tool_path(DUMP_TOOL)
    client_tool = tool_path(CLIENT_TOOL)
    env = tool_env(temp_dir)

    with secret_file(temp_dir, "my.cnf", option_file(config)) as cnf:
        defaults = f"--defaults-extra-file={cnf}"
        tool_version = run_tool([dump_tool, "--version"], env, secrets=secrets).strip()
        ssl = ssl_flags(config, tool_version)

        # The schema name is an escaped string literal; the mysql client has no bind parameters.
        catalogue_query = (
            "SELECT VERSION(); SELECT TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_ROWS, 0)"  # noqa: S608
            " FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            + _sql_string(database)
            + " ORDER BY TABLE_NAME;"
        )
        output = run_tool(
            [
                client_tool,
                defaults,
                *ssl,
                "--connect-timeout=15",
                "-N",
                "-B",
                "-e",
                catalogue_query,
            ],
            env,
            secrets=secrets,
        )
        lines = output.splitlines()
        if not lines:
            raise EngineError(f"{Path(client_tool).name} returned no server version.")
        version = lines[0].strip()
        tables = [
            TableInfo(name, kind == "BASE TABLE", int(rows or 0))
            for name, kind, rows in (line.split("\t") for line in lines[1:] if line)
        ]
        selected, ignored = select_tables(database, tables, include, exclude)

        argv = [
            dump_tool,
            defaults,
            *DUMP_FLAGS,
            *ssl,
            *(f"--ignore-table={database}.{table.name}" for table in ignored),
            "--",  # a database or table name starting with "-" is not an option
            database,
            *(table.name for table in selected if include),
        ]
        base_tables = [table for table in selected if table.is_base]

        def result(tail: str) -> BackupResult:
            return BackupResult(
                metadata={
                    "database_version": version,
                    "tool_version": tool_version,
                    "tables_backed_up": len(base_tables),
                    "rows_approximate": sum(table.rows for table in base_tables),
                    "engine_output": tail,
                },
            )

        stream = ProcessStream(ToolProcess(argv, env, secrets=secrets), result)
        try:
            yield stream
        finally:
            stream.abort()


# --- Health check ---------------------------------------------------------------------------

_HEALTH_QUERY = (
    "SELECT 1; SELECT VERSION(); SHOW GLOBAL STATUS LIKE 'Threads_connected'; "
    "SHOW GLOBAL STATUS LIKE 'Uptime';"
)
_CLIENT_ERROR = re.compile(r"ERROR (\d+)")
# Client error numbers: 1045 access denied (1698: denied by an auth plugin); 2002/2003 cannot
# connect, 2005 unknown host; 2013 lost the connection during the handshake.
_AUTH_ERRORS = frozenset({1045, 1698})
_UNREACHABLE_ERRORS = frozenset({2002, 2003, 2005})
_TIMEOUT_ERRORS = frozenset({2013})
# errno 110 (ETIMEDOUT), as the client reports it: "system error: 110" or "(110)".
_ETIMEDOUT = re.compile(r"system error: 110\b|\(110\)")


def _health_status(message: str) -> HealthStatus:
    if "timed out after" in message or _ETIMEDOUT.search(message):
        return "timeout"
    match = _CLIENT_ERROR.search(message)
    code = int(match[1]) if match else 0
    if code in _AUTH_ERRORS:
        return "auth_failed"
    if code in _UNREACHABLE_ERRORS:
        return "unreachable"
    if code in _TIMEOUT_ERRORS:
        return "timeout"
    return "error"


def _status_value(line: str) -> int:
    """The number of a ``SHOW GLOBAL STATUS`` row (``Name<TAB>value``)."""
    return int(line.split("\t")[-1])


def _check_health(config: dict[str, Any], timeout: float) -> HealthResult:
    """Run the client once with the option file the backup uses (the password never in argv
    or the environment). ``--connect-timeout`` bounds the connection and ``run_tool`` kills
    the client when the whole check outlives ``timeout``."""
    connection = MySQLConnectionSchema.parse(config)
    password = connection.password
    started = time.monotonic()
    try:
        client = tool_path(CLIENT_TOOL)
        with tempfile.TemporaryDirectory(prefix="dataguardian-health-") as directory:
            temp_dir = Path(directory)
            ssl = ssl_flags(config, Path(client).name)
            with secret_file(temp_dir, "my.cnf", option_file(config)) as cnf:
                output = run_tool(
                    [
                        client,
                        f"--defaults-extra-file={cnf}",
                        *ssl,
                        f"--connect-timeout={max(1, math.ceil(timeout))}",
                        "-N",
                        "-B",
                        "-e",
                        _HEALTH_QUERY,
                    ],
                    tool_env(temp_dir),
                    secrets=[password],
                    timeout=timeout,
                )
    except EngineError as exc:
        message = f"MySQL / MariaDB at {connection.where}: {exc}"
        return HealthResult(_health_status(message), elapsed_ms(started), error_message=message)
    latency = elapsed_ms(started)
    lines = output.splitlines()
    try:
        metadata: dict[str, Any] = {
            "version": lines[1].strip(),
            "threads_connected": _status_value(lines[2]),
            "uptime_seconds": _status_value(lines[3]),
        }
    except (IndexError, ValueError):
        message = "The MySQL / MariaDB client printed an unexpected answer."
        return HealthResult("error", latency, error_message=message)
    return HealthResult("ok", latency, metadata=metadata)


# --- Restore --------------------------------------------------------------------------------


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _restore(
    config: dict[str, Any], options: dict[str, Any], source: RestoreSource, temp_dir: Path
) -> dict[str, Any]:
    """Stream the SQL dump into the client, connected to the target database.

    The dump names no database (it is made without ``--databases``), so it lands in whichever
    one the client uses: the target datasource's. ``create_database`` creates it first when
    missing. A failing statement stops the client; what ran before it stays applied.
    """
    connection = MySQLConnectionSchema.parse(config)
    secrets = [connection.password]
    database = connection.database
    client_tool = tool_path(CLIENT_TOOL)
    env = tool_env(temp_dir)
    with secret_file(temp_dir, "my.cnf", option_file(config)) as cnf:
        defaults = f"--defaults-extra-file={cnf}"
        tool_version = run_tool([client_tool, "--version"], env, secrets=secrets).strip()
        ssl = ssl_flags(config, tool_version)
        base = [client_tool, defaults, *ssl, "--connect-timeout=15"]
        if options.get("create_database"):
            run_tool(
                [*base, "-e", f"CREATE DATABASE IF NOT EXISTS {_quote_identifier(database)}"],
                env,
                secrets=secrets,
            )
        tail = feed_tool(
            [*base, "--binary-mode", "--default-character-set=utf8mb4", f"--database={database}"],
            env,
            source.read,
            secrets=secrets,
        )
    return {"tool_version": tool_version, "engine_output": tail}


# --- Verification: the scratch database ----------------------------------------------------


def _run_query(server: Mapping[str, Any], temp_dir: Path, query: str, database: str = "") -> str:
    password = MySQLConnectionSchema.parse(server).password
    with secret_file(temp_dir, "my.cnf", option_file(server)) as cnf:
        argv = [tool_path(CLIENT_TOOL), f"--defaults-extra-file={cnf}", "--connect-timeout=15"]
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


@contextmanager
def _scratch(server: Mapping[str, Any], temp_dir: Path) -> Iterator[Scratch]:
    """A new database on ``server``, dropped when the context exits."""
    server = {key: value for key, value in server.items() if key != "database"}
    server.pop("maintenance_database", None)
    name = f"{SCRATCH_PREFIX}{_random.token_hex(6)}"

    def inspect(restored: dict[str, Any], assertions: list[str]) -> Inspection:
        return _inspect(server, name, temp_dir, assertions)

    _run_query(server, temp_dir, f"CREATE DATABASE {_quote_identifier(name)}")
    try:
        yield Scratch(
            {**server, "database": name}, inspect, scratch_secrets(server.get("password"))
        )
    finally:
        _run_query(server, temp_dir, f"DROP DATABASE IF EXISTS {_quote_identifier(name)}")


def _inspect(
    server: Mapping[str, Any], name: str, temp_dir: Path, assertions: list[str]
) -> Inspection:
    # ``name`` is generated here (dgverify_ and hex digits); it needs no escaping as a literal.
    listing = _run_query(
        server,
        temp_dir,
        "SELECT TABLE_NAME FROM information_schema.TABLES "  # noqa: S608
        f"WHERE TABLE_SCHEMA = '{name}' AND TABLE_TYPE = 'BASE TABLE'",
    )
    tables = [line for line in listing.splitlines() if line]
    rows = 0
    if tables:
        # Identifiers quoted; the client has no bind parameters.
        total = " + ".join(
            f"(SELECT COUNT(*) FROM {_quote_identifier(t)})"  # noqa: S608
            for t in tables
        )
        rows = int(_run_query(server, temp_dir, f"SELECT {total}", name).strip() or 0)
    results = []
    for number, assertion in enumerate(assertions, 1):
        check_name = f"assertion_{number}"
        try:
            output = _run_query(server, temp_dir, assertion, name)
        except Exception as exc:
            results.append(Check(check_name, False, f"{assertion!r} raised: {exc}"))
            continue
        lines = [tuple(line.split("\t")) for line in output.splitlines()]
        results.append(assertion_check(check_name, assertion, lines))
    return Inspection(tables=len(tables), rows=rows, assertions=results)
