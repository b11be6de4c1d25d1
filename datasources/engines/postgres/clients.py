"""Which pg_dump and pg_restore fit a server, and the server facts that decide it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from datasources.engines.base import DatabaseConnectionSchema, EngineError
from datasources.engines.process import engine_error, run_tool, tool_env

PG_LIB_DIR = Path("/usr/lib/postgresql")
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_MAJOR_RE = re.compile(r"(\d+)(?:\.(\d+))?")


# --- Choosing pg_dump ------------------------------------------------------------------------


@dataclass(frozen=True)
class PgDumpClient:
    path: Path
    major: int
    version: str  # the full ``pg_dump --version`` line


def installed_pg_dumps(
    lib_dir: Path = PG_LIB_DIR, *, search_path: str | None = None
) -> list[PgDumpClient]:
    """Every pg_dump found under ``lib_dir/*/bin`` and on ``search_path`` (default PATH),
    one per major version, lowest first."""
    candidates = sorted(lib_dir.glob("*/bin/pg_dump"))
    on_path = shutil.which("pg_dump", path=search_path)
    if on_path:
        candidates.append(Path(on_path))
    clients: dict[int, PgDumpClient] = {}
    for path in candidates:
        try:
            line = run_tool([str(path), "--version"], tool_env(Path("/tmp")), timeout=15)  # noqa: S108
        except EngineError:
            continue
        match = _VERSION_RE.search(line)
        if match:
            clients.setdefault(int(match[1]), PgDumpClient(path, int(match[1]), line.strip()))
    return [clients[major] for major in sorted(clients)]


def server_major(version_num: int) -> int:
    return version_num // 10000 if version_num >= 100000 else version_num // 100


def choose_pg_dump(version_num: int, version: str, clients: Sequence[PgDumpClient]) -> PgDumpClient:
    """The lowest installed pg_dump whose major version is at least the server's."""
    major = server_major(version_num)
    fitting = [client for client in clients if client.major >= major]
    if not fitting:
        installed = ", ".join(str(client.major) for client in clients) or "none"
        raise EngineError(
            f"No pg_dump for PostgreSQL {version}: the server needs pg_dump {major} or newer, "
            f"installed client versions: {installed}."
        )
    return min(fitting, key=lambda client: client.major)


class PostgresConnectionSchema(DatabaseConnectionSchema):
    default_port = 5432


# --- Server facts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    version_num: int
    version: str  # "15.20"
    tables: list[tuple[str, str, int]]  # (schema, table, approximate rows)
    others: list[tuple[str, str]]  # views, sequences, foreign tables: --table matches them too


def sslmode(config: Mapping[str, Any]) -> str:
    return "require" if config.get("ssl_enabled") else "prefer"


def connection_arguments(config: Mapping[str, Any], database: str | None = None) -> dict[str, Any]:
    """psycopg's arguments for the server of a connection ``config``: address, login, TLS and
    ``database`` (by default the config's own); the caller adds timeouts and its name."""
    connection = PostgresConnectionSchema.parse(config)
    return {
        "host": connection.host,
        "port": connection.port,
        "dbname": database or connection.database,
        "user": connection.username,
        "password": connection.password or None,
        "sslmode": sslmode(config),
    }


def libpq_env(
    temp_dir: Path, passfile: Path, config: dict[str, Any], application: str
) -> dict[str, str]:
    """The environment of a libpq tool (pg_dump, pg_restore): the password comes from
    ``passfile``, never from argv or the environment."""
    return tool_env(
        temp_dir,
        {
            "PGPASSFILE": str(passfile),
            "PGSSLMODE": sslmode(config),
            "PGCONNECT_TIMEOUT": "30",
            "PGAPPNAME": application,
        },
    )


def read_server_info(config: dict[str, Any], secrets: Sequence[str]) -> ServerInfo:
    try:
        with psycopg.connect(
            **connection_arguments(config),
            connect_timeout=15,
            application_name="dataguardian",
        ) as connection:
            row = connection.execute(
                "SELECT current_setting('server_version_num')::int, "
                "current_setting('server_version')"
            ).fetchone()
            relations = connection.execute(
                "SELECT n.nspname, c.relname, c.relkind IN ('r', 'p'), "
                "GREATEST(c.reltuples, 0)::bigint "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
            ).fetchall()
    except psycopg.Error as exc:
        raise engine_error(
            f"PostgreSQL at {PostgresConnectionSchema.parse(config).where}: {exc}".strip(), secrets
        ) from None
    assert row is not None
    return ServerInfo(
        version_num=int(row[0]),
        version=str(row[1]).split()[0],
        tables=[(str(s), str(t), int(n)) for s, t, is_table, n in relations if is_table],
        others=[(str(s), str(t)) for s, t, is_table, _ in relations if not is_table],
    )


# --- Choosing pg_restore ---------------------------------------------------------------------


def major_of(version: str | None) -> int | None:
    """The major version in ``PostgreSQL 15.20`` or ``pg_dump (PostgreSQL) 16.4``, on the
    scale ``server_major`` uses (9.6 is 906, 15 is 15)."""
    match = _MAJOR_RE.search(version or "")
    if not match:
        return None
    first = int(match[1])
    return first if first >= 10 else first * 100 + int(match[2] or 0)


def choose_pg_restore(needed_major: int, clients: Sequence[PgDumpClient]) -> PgDumpClient:
    """The lowest installed client package (pg_restore beside pg_dump) whose major version
    is at least ``needed_major``: the newer of the target server and the pg_dump that made
    the dump, since pg_restore reads only archives of its own version or older."""
    fitting = [
        client
        for client in clients
        if client.major >= needed_major and client.path.with_name("pg_restore").exists()
    ]
    if not fitting:
        installed = ", ".join(str(client.major) for client in clients) or "none"
        raise EngineError(
            f"No pg_restore {needed_major} or newer is installed on this worker "
            f"(installed client versions: {installed})."
        )
    return min(fitting, key=lambda client: client.major)
