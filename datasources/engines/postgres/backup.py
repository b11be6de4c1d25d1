"""The pg_dump backup: table selection, the PGPASSFILE, and the dump as a stream."""

from __future__ import annotations

import fnmatch
import os
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datasources.engines.base import BackupResult, BackupStream, EngineError
from datasources.engines.postgres.clients import (
    PostgresConnectionSchema,
    choose_pg_dump,
    installed_pg_dumps,
    libpq_env,
    read_server_info,
)
from datasources.engines.process import ProcessStream, ToolProcess, secret_file

DIRECTORY_NAME = "pgdump"


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
    connection = PostgresConnectionSchema.parse(config)
    fields = [
        connection.host,
        str(connection.port),
        connection.database,
        connection.username,
        connection.password,
    ]
    if any("\n" in field or "\r" in field for field in fields):
        raise EngineError("PostgreSQL connection fields cannot contain line breaks.")
    return ":".join(_pgpass_field(field) for field in fields) + "\n"


@contextmanager
def open_backup(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path
) -> Iterator[BackupStream]:
    connection = PostgresConnectionSchema.parse(config)
    secrets = [connection.password]
    include = list(options.get("include_tables") or [])
    exclude = list(options.get("exclude_tables") or [])
    jobs = int(options.get("parallel_jobs") or 1)

    info = read_server_info(config, secrets)
    client = choose_pg_dump(info.version_num, info.version, installed_pg_dumps())
    selected = select_tables(info.tables, include, exclude, info.others)

    def result() -> Callable[[str], BackupResult]:
        def build(tail: str) -> BackupResult:
            return BackupResult(
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
        env = libpq_env(temp_dir, passfile, config, "dataguardian")
        argv = [
            str(client.path),
            "--no-password",
            "--compress=0",
            f"--host={connection.host}",
            f"--port={connection.port}",
            f"--username={connection.username}",
            f"--dbname={connection.database}",
        ]
        argv += [f"--table={pattern}" for pattern in include]
        argv += [f"--exclude-table={pattern}" for pattern in exclude]
        if include:
            argv.append("--strict-names")
        stream: ProcessStream | DirectoryTarStream
        if jobs > 1:
            argv += ["--format=directory", f"--jobs={jobs}", f"--file={directory}"]
            process = ToolProcess(argv, env, secrets=secrets, pipe_stdout=False)
            stream = DirectoryTarStream(process, directory, result())
        else:
            argv.append("--format=custom")
            stream = ProcessStream(ToolProcess(argv, env, secrets=secrets), result())
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
