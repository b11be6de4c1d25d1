"""PostgreSQL datasources: backups with the ``pg_dump`` that matches the server."""

from __future__ import annotations

import fnmatch
import math
import os
import re
import shutil
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from datasources.engines.base import (
    BackupResult,
    BackupStream,
    DatabaseConnectionSchema,
    DatabaseEngine,
    EngineError,
    HealthResult,
    HealthStatus,
    RestoreSource,
    elapsed_ms,
)
from datasources.engines.process import (
    ProcessStream,
    ToolProcess,
    engine_error,
    feed_tool,
    mask,
    run_tool,
    secret_file,
    tool_env,
)

PG_LIB_DIR = Path("/usr/lib/postgresql")
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
DIRECTORY_NAME = "pgdump"


class PostgresConnectionSchema(DatabaseConnectionSchema):
    default_port = 5432


class PostgresEngine(DatabaseEngine):
    name = "postgres"
    label = "PostgreSQL"
    config_schema = PostgresConnectionSchema
    extension = "dump"

    def artifact_extension(self, options: dict[str, Any]) -> str:
        # parallel_jobs > 1 uses pg_dump's directory format, streamed as a tar
        return "tar" if (options.get("parallel_jobs") or 1) > 1 else "dump"

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
        return _restore(config, options, source, temp_dir, manifest)


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


# --- Server facts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    version_num: int
    version: str  # "15.20"
    tables: list[tuple[str, str, int]]  # (schema, table, approximate rows)
    others: list[tuple[str, str]]  # views, sequences, foreign tables: --table matches them too


def _sslmode(config: dict[str, Any]) -> str:
    return "require" if config.get("ssl_enabled") else "prefer"


def read_server_info(config: dict[str, Any], secrets: Sequence[str]) -> ServerInfo:
    try:
        with psycopg.connect(
            host=config["host"],
            port=config.get("port") or 5432,
            dbname=config["database"],
            user=config["username"],
            password=config.get("password") or None,
            sslmode=_sslmode(config),
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
            f"PostgreSQL at {config['host']}:{config.get('port')}: {exc}".strip(), secrets
        ) from None
    assert row is not None
    return ServerInfo(
        version_num=int(row[0]),
        version=str(row[1]).split()[0],
        tables=[(str(s), str(t), int(n)) for s, t, is_table, n in relations if is_table],
        others=[(str(s), str(t)) for s, t, is_table, _ in relations if not is_table],
    )


def _matches(pattern: str, schema: str, table: str) -> bool:
    """Roughly pg_dump's pattern rules: ``*``/``?`` globs, optional ``schema.``, unquoted
    names folded to lower case."""
    pattern = pattern.replace('"', "") if '"' in pattern else pattern.lower()
    if "." in pattern:
        schema_pattern, table_pattern = pattern.split(".", 1)
        return fnmatch.fnmatchcase(schema, schema_pattern) and fnmatch.fnmatchcase(
            table, table_pattern
        )
    return fnmatch.fnmatchcase(table, pattern)


def select_tables(
    tables: Sequence[tuple[str, str, int]],
    include: Sequence[str],
    exclude: Sequence[str],
    others: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str, int]]:
    """The tables (with their row estimates) a dump with these patterns holds."""
    names = [(schema, table) for schema, table, _ in tables] + list(others)
    for pattern in include:
        if not any(_matches(pattern, schema, table) for schema, table in names):
            raise EngineError(f"include_tables pattern {pattern!r} matches no table.")
    return [
        entry
        for entry in tables
        if (not include or any(_matches(p, entry[0], entry[1]) for p in include))
        and not any(_matches(p, entry[0], entry[1]) for p in exclude)
    ]


# --- The backup -----------------------------------------------------------------------------


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def pgpass_line(config: dict[str, Any]) -> str:
    """The one line of the PGPASSFILE, ``:`` and ``\\`` escaped."""
    fields = [
        str(config["host"]),
        str(config.get("port") or 5432),
        str(config["database"]),
        str(config["username"]),
        str(config.get("password") or ""),
    ]
    if any("\n" in field or "\r" in field for field in fields):
        raise EngineError("PostgreSQL connection fields cannot contain line breaks.")
    return ":".join(_pgpass_field(field) for field in fields) + "\n"


@contextmanager
def _backup(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path
) -> Iterator[BackupStream]:
    password = str(config.get("password") or "")
    secrets = [password]
    include = list(options.get("include_tables") or [])
    exclude = list(options.get("exclude_tables") or [])
    jobs = int(options.get("parallel_jobs") or 1)

    info = read_server_info(config, secrets)
    client = choose_pg_dump(info.version_num, info.version, installed_pg_dumps())
    selected = select_tables(info.tables, include, exclude, info.others)

    def result(extension: str) -> Callable[[str], BackupResult]:
        def build(tail: str) -> BackupResult:
            return BackupResult(
                extension=extension,
                metadata={
                    "database_version": f"PostgreSQL {info.version}",
                    "tool_version": client.version,
                    "tables_backed_up": len(selected),
                    "rows_approximate": sum(rows for _, _, rows in selected),
                    "engine_output": tail,
                },
            )

        return build

    directory = temp_dir / DIRECTORY_NAME
    with secret_file(temp_dir, "pgpass", pgpass_line(config)) as passfile:
        env = tool_env(
            temp_dir,
            {
                "PGPASSFILE": str(passfile),
                "PGSSLMODE": _sslmode(config),
                "PGCONNECT_TIMEOUT": "30",
                "PGAPPNAME": "dataguardian",
            },
        )
        argv = [
            str(client.path),
            "--no-password",
            "--compress=0",
            f"--host={config['host']}",
            f"--port={config.get('port') or 5432}",
            f"--username={config['username']}",
            f"--dbname={config['database']}",
        ]
        argv += [f"--table={pattern}" for pattern in include]
        argv += [f"--exclude-table={pattern}" for pattern in exclude]
        if include:
            argv.append("--strict-names")
        stream: ProcessStream | DirectoryTarStream
        if jobs > 1:
            argv += ["--format=directory", f"--jobs={jobs}", f"--file={directory}"]
            process = ToolProcess(argv, env, secrets=secrets, pipe_stdout=False)
            stream = DirectoryTarStream(process, directory, result("tar"))
        else:
            argv.append("--format=custom")
            stream = ProcessStream(ToolProcess(argv, env, secrets=secrets), result("dump"))
        try:
            yield stream
        finally:
            stream.abort()
            shutil.rmtree(directory, ignore_errors=True)


class DirectoryTarStream:
    """Waits for a ``pg_dump --format=directory`` run, then streams that directory as an
    uncompressed tar through a pipe written by a thread."""

    def __init__(
        self, process: ToolProcess, directory: Path, on_success: Callable[[str], BackupResult]
    ) -> None:
        self.process = process
        self._directory = directory
        self._on_success = on_success
        self._aborted = False
        self._error: OSError | None = None
        self._files = 0
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(
            target=self._write, args=(os.fdopen(write_fd, "wb"),), daemon=True
        )
        self._thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _write(self, out: Any) -> None:
        try:
            with out:
                if self.process.wait() != 0 or self._aborted:
                    return
                with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    for path in sorted(self._directory.rglob("*")):
                        if self._aborted:
                            return
                        arcname = path.relative_to(self._directory).as_posix()
                        tar.add(path, arcname=arcname, recursive=False)
                        if path.is_file():
                            self._files += 1
        except OSError as exc:
            self._error = exc

    def read(self, size: int = -1, /) -> bytes:
        return self._reader.read(size)

    def finish(self) -> BackupResult:
        self.process.check()
        self._thread.join()
        if self._error is not None:
            raise EngineError(f"Could not stream the pg_dump directory: {self._error}")
        result = self._on_success(self.process.stderr_tail())
        result.files_count = self._files
        return result

    def abort(self) -> None:
        self._aborted = True
        self.process.abort()
        self._reader.close()
        self._thread.join(timeout=10)


# --- Health check ---------------------------------------------------------------------------

# SQLSTATE class 28: the server refused the login (28P01 wrong password, 28000 no such role,
# role not allowed to log in, no pg_hba.conf entry). libpq does not hand the SQLSTATE of a
# failed connection attempt to psycopg, so the server's FATAL messages are matched as well.
_AUTH_SQLSTATES = frozenset({"28P01", "28000"})
_AUTH_MARKERS = (
    "password authentication failed",
    "authentication failed for user",
    "is not permitted to log in",
    "no pg_hba.conf entry",
    "no password supplied",
)
_ROLE_MISSING = re.compile(r'role ".*" does not exist')
_UNREACHABLE_MARKERS = (
    "connection refused",
    "could not translate host name",
    "name or service not known",
    "no route to host",
    "network is unreachable",
)
_HEALTH_QUERY = (
    "SELECT 1, current_setting('server_version'), "
    "(SELECT count(*) FROM pg_stat_activity), "
    "extract(epoch FROM now() - pg_postmaster_start_time())::bigint"
)


def _health_status(exc: psycopg.Error) -> HealthStatus:
    message = str(exc).lower()
    if (
        exc.sqlstate in _AUTH_SQLSTATES
        or any(marker in message for marker in _AUTH_MARKERS)
        or _ROLE_MISSING.search(message)
    ):
        return "auth_failed"
    if isinstance(exc, psycopg.errors.ConnectionTimeout | psycopg.errors.QueryCanceled):
        return "timeout"
    if "timeout expired" in message or "timed out" in message:
        return "timeout"
    if exc.sqlstate is None and any(marker in message for marker in _UNREACHABLE_MARKERS):
        return "unreachable"
    return "error"


def _check_health(config: dict[str, Any], timeout: float) -> HealthResult:
    """Log in, run one query of server facts, log out.

    libpq's ``connect_timeout`` bounds the connection (it has a floor of 2 s) and
    ``statement_timeout``, set to what is left of ``timeout`` once logged in, the query, so the
    check ends soon after ``timeout`` even when the server accepts connections and then never
    answers. (A server that logs the client in and then drops off the network without closing
    the connection is beyond both; the task's time limit ends that check.)
    """
    password = str(config.get("password") or "")
    started = time.monotonic()
    try:
        with psycopg.connect(
            host=config["host"],
            port=config.get("port") or 5432,
            dbname=config["database"],
            user=config["username"],
            password=password or None,
            sslmode=_sslmode(config),
            connect_timeout=max(2, math.ceil(timeout)),
            options=f"-c statement_timeout={max(1, round(timeout * 1000))}",
            application_name="dataguardian-health",
        ) as connection:
            # What is left of the budget after the login bounds the query.
            remaining_ms = max(1, round((started + timeout - time.monotonic()) * 1000))
            connection.execute(
                "SELECT set_config('statement_timeout', %s, false)", [str(remaining_ms)]
            )
            row = connection.execute(_HEALTH_QUERY).fetchone()
    except psycopg.Error as exc:
        where = f"{config['host']}:{config.get('port') or 5432}"
        return HealthResult(
            _health_status(exc),
            elapsed_ms(started),
            error_message=mask(f"PostgreSQL at {where}: {exc}".strip(), [password]),
        )
    latency = elapsed_ms(started)
    assert row is not None
    return HealthResult(
        "ok",
        latency,
        metadata={
            "version": f"PostgreSQL {str(row[1]).split()[0]}",
            "connections": int(row[2]),
            "uptime_seconds": int(row[3]),
        },
    )


# --- Restore --------------------------------------------------------------------------------

_MAJOR_RE = re.compile(r"(\d+)(?:\.(\d+))?")
RESTORE_DIRECTORY_NAME = "pgrestore"
SPOOL_NAME = "restore.dump"
SPOOL_CHUNK_BYTES = 1024 * 1024


def _major_of(version: str | None) -> int | None:
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


def _restore_argv(pg_restore: Path, config: dict[str, Any], options: dict[str, Any]) -> list[str]:
    argv = [
        str(pg_restore),
        "--no-password",
        "--exit-on-error",
        f"--host={config['host']}",
        f"--port={config.get('port') or 5432}",
        f"--username={config['username']}",
        f"--dbname={config['database']}",
    ]
    if options.get("clean"):
        argv += ["--clean", "--if-exists"]
    # Restoring elsewhere is the common case, where the source's roles need not exist.
    if options.get("no_owner", True):
        argv.append("--no-owner")
    if options.get("no_acl", True):
        argv.append("--no-acl")
    argv += [f"--schema={schema}" for schema in options.get("schemas") or []]
    argv += [f"--table={table}" for table in options.get("tables") or []]
    return argv


def _restore(
    config: dict[str, Any],
    options: dict[str, Any],
    source: RestoreSource,
    temp_dir: Path,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """pg_restore into the target database.

    A custom-format dump streams into pg_restore's stdin. ``jobs`` > 1 needs a seekable
    archive, so the dump is spooled to ``temp_dir`` first; a directory-format artifact (a tar,
    from a parallel backup) is always extracted to ``temp_dir`` and restored with ``-Fd``.
    """
    password = str(config.get("password") or "")
    secrets = [password]
    engine_facts = manifest.get("engine") or {}
    info = read_server_info(config, secrets)
    target_major = server_major(info.version_num)
    dumped = engine_facts.get("database_version")
    dumped_major = _major_of(dumped)
    if dumped_major is not None and dumped_major > target_major:
        raise EngineError(
            f"The backup is of {dumped}, newer than the target server (PostgreSQL "
            f"{info.version}); PostgreSQL cannot restore a dump into an older major version."
        )
    needed = max(target_major, _major_of(engine_facts.get("tool_version")) or 0)
    client = choose_pg_restore(needed, installed_pg_dumps())
    pg_restore = client.path.with_name("pg_restore")
    jobs = int(options.get("jobs") or 1)
    artifact_format = engine_facts.get("artifact_format") or "dump"

    with secret_file(temp_dir, "pgpass", pgpass_line(config)) as passfile:
        env = tool_env(
            temp_dir,
            {
                "PGPASSFILE": str(passfile),
                "PGSSLMODE": _sslmode(config),
                "PGCONNECT_TIMEOUT": "30",
                "PGAPPNAME": "dataguardian-restore",
            },
        )
        argv = _restore_argv(pg_restore, config, options)
        if artifact_format == "tar":
            directory = temp_dir / RESTORE_DIRECTORY_NAME
            _extract_dump_directory(source, directory)
            argv += ["--format=directory", f"--jobs={max(jobs, 1)}", str(directory)]
            tail = _run_to_end(argv, env, secrets)
        elif jobs > 1:
            spool = temp_dir / SPOOL_NAME
            _spool(source, spool)
            argv += ["--format=custom", f"--jobs={jobs}", str(spool)]
            tail = _run_to_end(argv, env, secrets)
        else:
            tail = feed_tool([*argv, "--format=custom"], env, source.read, secrets=secrets)
    return {
        "database_version": f"PostgreSQL {info.version}",
        "tool_version": client.version.replace("pg_dump", "pg_restore"),
        "engine_output": tail,
    }


def _run_to_end(argv: Sequence[str], env: dict[str, str], secrets: Sequence[str]) -> str:
    process = ToolProcess(argv, env, secrets=secrets, pipe_stdout=False)
    try:
        process.check()
    finally:
        process.abort()
    return process.stderr_tail()


def _spool(source: RestoreSource, path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while data := source.read(SPOOL_CHUNK_BYTES):
            out.write(data)


def _extract_dump_directory(source: RestoreSource, directory: Path) -> None:
    """Unpack a pg_dump directory-format tar: flat regular files only (``toc.dat``,
    ``NNNN.dat``), so no member can land outside ``directory``."""
    directory.mkdir(mode=0o700)
    with tarfile.open(fileobj=source, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            name = member.name
            if member.isdir() and name in {".", ""}:
                continue
            if not member.isfile() or "/" in name or name in {".", ".."} or "\\" in name:
                raise EngineError(
                    f"The pg_dump directory archive holds an unexpected entry {name!r}."
                )
            tar.extract(member, directory, filter="data")
