"""What DataGuardian asks SQL Server itself, through ``pymssql``: the server version, the
catalogue, a database's state, and the health check.

``pymssql`` is imported inside the functions: the module loads (for the admin, the schemas,
the registry) on a host without the driver, and only a check or a backup needs it.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from datasources.engines.base import (
    DatabaseConnection,
    DatabaseConnectionSchema,
    EngineError,
    HealthResult,
    HealthStatus,
    elapsed_ms,
)
from datasources.engines.process import engine_error, mask

#: The TDS version FreeTDS speaks to SQL Server 2012 and newer.
TDS_VERSION = "7.4"
#: Seconds a backup's or a restore's own catalogue query may take to connect and to answer.
QUERY_TIMEOUT_SECONDS = 30
#: SQL Server's "Login failed for user" error number.
LOGIN_FAILED = 18456
_AUTH_MARKERS = ("login failed", "cannot open database", "is not able to access the database")
_TIMEOUT_MARKERS = ("timed out", "timeout expired")
_UNREACHABLE_MARKERS = (
    "connection refused",
    "unavailable or does not exist",
    "no route to host",
    "network is unreachable",
    "name or service not known",
)


class SQLServerConnectionSchema(DatabaseConnectionSchema):
    default_port = 1433

    trust_server_certificate = serializers.BooleanField(
        required=False,
        default=False,
        label="Trust the server certificate",
        help_text="SQL Server: accept the server's TLS certificate without checking who issued "
        "it (a self-signed certificate). sqlpackage checks it otherwise.",
    )

    @classmethod
    def trusts_certificate(cls, config: Mapping[str, Any]) -> bool:
        return bool(config.get("trust_server_certificate"))


# --- Connecting -----------------------------------------------------------------------------


def connect(
    connection: DatabaseConnection,
    *,
    database: str | None = None,
    timeout: float = QUERY_TIMEOUT_SECONDS,
    autocommit: bool = False,
    appname: str = "dataguardian",
) -> Any:
    """A ``pymssql`` connection to ``database`` (by default the connection's own), its login
    and each query bounded by ``timeout`` seconds. TLS is required when ``ssl_enabled``."""
    import pymssql

    seconds = max(1, math.ceil(timeout))
    arguments: dict[str, Any] = {
        "server": connection.host,
        "port": str(connection.port),
        "user": connection.username,
        "password": connection.password,
        "database": database if database is not None else connection.database,
        "login_timeout": seconds,
        "timeout": seconds,
        "tds_version": TDS_VERSION,
        "appname": appname,
        "autocommit": autocommit,
    }
    if connection.ssl_enabled:
        arguments["encryption"] = "require"
    return pymssql.connect(**arguments)


def driver_message(exc: BaseException) -> str:
    """A ``pymssql`` error as one readable line: FreeTDS's ``DB-Lib error message N,
    severity N:`` headers dropped, its lines joined, repeated lines said once."""
    parts: list[str] = []
    for arg in exc.args or (str(exc),):
        items = arg if isinstance(arg, tuple) else (arg,)
        for item in items:
            if isinstance(item, int):
                continue
            text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            for line in text.replace("DB-Lib error message", "\nDB-Lib error message").splitlines():
                line = line.strip().rstrip(".")
                if line and not line.startswith("DB-Lib error message") and line not in parts:
                    parts.append(line)
    return "; ".join(parts) or type(exc).__name__


def driver_number(exc: BaseException) -> int | None:
    """The SQL Server (or DB-Lib) error number ``pymssql`` put first in the error's args."""
    first = exc.args[0] if exc.args else None
    if isinstance(first, tuple) and first and isinstance(first[0], int):
        return first[0]
    return first if isinstance(first, int) else None


def driver_status(exc: BaseException) -> HealthStatus:
    """How a failed connection or query reads as a health status."""
    message = driver_message(exc).lower()
    if driver_number(exc) == LOGIN_FAILED or any(m in message for m in _AUTH_MARKERS):
        return "auth_failed"
    if any(marker in message for marker in _TIMEOUT_MARKERS):
        return "timeout"
    if any(marker in message for marker in _UNREACHABLE_MARKERS):
        return "unreachable"
    return "error"


def resolve(host: str) -> str | None:
    """Why ``host`` cannot be resolved, or None. FreeTDS reports an unknown host as
    "Unknown error", so the name is looked up first to say what is wrong."""
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        return f"Cannot resolve {host}: {exc.strerror or exc}."
    except UnicodeError:
        return f"Cannot resolve {host}: it is not a valid host name."
    return None


@contextmanager
def session(
    connection: DatabaseConnection,
    *,
    database: str | None = None,
    timeout: float = QUERY_TIMEOUT_SECONDS,
    autocommit: bool = False,
) -> Iterator[Any]:
    """A connection for a backup, restore or verification step; a driver error becomes an
    ``EngineError`` (transient when it says so) naming the server, without the password."""
    import pymssql

    secrets = [connection.password]
    where = f"SQL Server at {connection.where}"
    unresolved = resolve(connection.host)
    if unresolved:
        raise EngineError(f"{where}: {unresolved}")
    try:
        with closing(
            connect(connection, database=database, timeout=timeout, autocommit=autocommit)
        ) as conn:
            yield conn
    except pymssql.Error as exc:
        raise engine_error(f"{where}: {driver_message(exc)}", secrets) from None


def query(conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Every row of one statement (an empty list when it returns none)."""
    cursor = conn.cursor()
    try:
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def execute(conn: Any, sql: str) -> None:
    """Run one statement that returns no rows (DDL)."""
    cursor = conn.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def quote_name(name: str) -> str:
    """A bracket-quoted identifier, as ``QUOTENAME`` makes it."""
    return "[" + name.replace("]", "]]") + "]"


# --- The catalogue --------------------------------------------------------------------------

VERSION_QUERY = "SELECT @@VERSION"
#: User tables with the rows of their heap or clustered index (one partition row per
#: partition: summed), in the database the connection uses.
TABLES_QUERY = (
    "SELECT s.name, t.name, COALESCE(SUM(p.rows), 0) FROM sys.tables t "
    "JOIN sys.schemas s ON s.schema_id = t.schema_id "
    "LEFT JOIN sys.partitions p ON p.object_id = t.object_id AND p.index_id IN (0, 1) "
    "WHERE t.is_ms_shipped = 0 GROUP BY s.name, t.name ORDER BY s.name, t.name"
)
STATE_QUERY = "SELECT state_desc FROM sys.databases WHERE name = %s"
ACCESS_QUERY = "SELECT HAS_DBACCESS(%s)"
USER_OBJECTS_QUERY = "SELECT COUNT(*) FROM sys.objects WHERE is_ms_shipped = 0"


@dataclass(frozen=True)
class Catalogue:
    """What a backup records of the source: the server version and the user tables."""

    version: str
    tables: list[tuple[str, str, int]]

    @property
    def rows(self) -> int:
        return sum(rows for _, _, rows in self.tables)


def first_line(version: str) -> str:
    """``@@VERSION`` spans several lines (build date, copyright, edition, OS); the first
    names the product and build."""
    return version.strip().splitlines()[0].strip() if version.strip() else ""


def read_catalogue(connection: DatabaseConnection) -> Catalogue:
    with session(connection) as conn:
        version_rows = query(conn, VERSION_QUERY)
        tables = query(conn, TABLES_QUERY)
    if not version_rows:
        raise EngineError(f"SQL Server at {connection.where} returned no version.")
    return Catalogue(
        version=first_line(str(version_rows[0][0])),
        tables=[(str(schema), str(table), int(rows or 0)) for schema, table, rows in tables],
    )


def database_state(conn: Any, database: str) -> str | None:
    """``sys.databases.state_desc`` of ``database`` (ONLINE, OFFLINE, RESTORING, ...), None
    when there is no such database."""
    rows = query(conn, STATE_QUERY, [database])
    return str(rows[0][0]) if rows else None


def require_empty_target(connection: DatabaseConnection) -> bool:
    """Whether the target database exists; raise ``EngineError`` when it holds objects.

    ``sqlpackage /Action:Import`` creates the database, or imports into an existing one only
    when it is empty; saying so before the import starts is clearer than its own error.
    """
    database = connection.database
    with session(connection, database="master") as conn:
        state = database_state(conn, database)
    if state is None:
        return False
    if state != "ONLINE":
        raise EngineError(
            f"The target database {database!r} on {connection.where} is {state}; a restore "
            "needs it ONLINE and empty, or absent."
        )
    with session(connection) as conn:
        rows = query(conn, USER_OBJECTS_QUERY)
    objects = int(rows[0][0]) if rows else 0
    if objects:
        raise EngineError(
            f"The target database {database!r} on {connection.where} already holds {objects} "
            "objects; sqlpackage imports only into an empty or new database. Drop or empty it, "
            "or restore into a datasource naming another database."
        )
    return True


def drop_database(connection: DatabaseConnection, database: str) -> None:
    """Drop ``database`` if it exists, disconnecting whoever uses it."""
    name = quote_name(database)
    with session(connection, database="master", autocommit=True) as conn:
        if database_state(conn, database) is None:
            return
        # ``name`` is bracket-quoted; T-SQL takes no parameters for identifiers.
        execute(conn, f"ALTER DATABASE {name} SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
        execute(conn, f"DROP DATABASE {name}")


# --- Health check ---------------------------------------------------------------------------


def check_health(config: Mapping[str, Any], timeout: float) -> HealthResult:
    """Log in to ``master``, read ``@@VERSION``, the configured database's state and whether
    the login may use it.

    The check logs in to ``master`` rather than to the database itself so that an OFFLINE or
    RESTORING database is reported as such instead of as a failed login. ``login_timeout``
    and the query timeout of ``pymssql`` bound the check; the name is resolved first.
    """
    import pymssql

    connection = SQLServerConnectionSchema.parse(config)
    secrets = [connection.password]
    where = f"SQL Server at {connection.where}"
    started = time.monotonic()
    unresolved = resolve(connection.host)
    if unresolved:
        return HealthResult("unreachable", elapsed_ms(started), error_message=unresolved)
    try:
        with closing(
            connect(connection, database="master", timeout=timeout, appname="dataguardian-health")
        ) as conn:
            version_rows = query(conn, VERSION_QUERY)
            state = database_state(conn, connection.database)
            access = query(conn, ACCESS_QUERY, [connection.database]) if state else []
    except pymssql.Error as exc:
        message = mask(f"{where}: {driver_message(exc)}", secrets)
        return HealthResult(driver_status(exc), elapsed_ms(started), error_message=message)
    except Exception as exc:  # a health check reports, it never raises
        message = mask(f"{where}: {type(exc).__name__}: {exc}", secrets)
        return HealthResult("error", elapsed_ms(started), error_message=message)
    latency = elapsed_ms(started)
    version = first_line(str(version_rows[0][0])) if version_rows else ""
    metadata: dict[str, Any] = {"version": version, "database_state": state}
    database = connection.database
    if state is None:
        message = f"{where}: database {database!r} does not exist."
        return HealthResult("error", latency, metadata=metadata, error_message=message)
    if state in {"OFFLINE", "SUSPECT", "EMERGENCY", "RECOVERY_PENDING"}:
        message = f"{where}: database {database!r} is {state}."
        return HealthResult("error", latency, metadata=metadata, error_message=message)
    if not access or access[0][0] != 1:
        message = f"{where}: login {connection.username!r} cannot access database {database!r}."
        return HealthResult("auth_failed", latency, metadata=metadata, error_message=message)
    if state != "ONLINE":
        return HealthResult(
            "ok", latency, metadata=metadata, warning=f"Database {database!r} is {state}."
        )
    return HealthResult("ok", latency, metadata=metadata)
