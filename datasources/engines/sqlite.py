"""SQLite database files.

A backup is a consistent online copy made with SQLite's backup API from a read-only connection
into a private temporary file under ``temp_dir`` (mode 0600). The copy is switched to the
rollback journal (so it is one self-contained file), checked with ``PRAGMA quick_check`` and
then streamed. The temporary file is removed when the context exits.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

from core.registry import AbsolutePathField, ConfigSchema
from datasources.engines.base import (
    BackupResult,
    BackupStream,
    Engine,
    EngineError,
    HealthResult,
    RestoreSource,
    elapsed_ms,
)
from datasources.engines.verification import Check, Inspection, Scratch, assertion_check

#: Pages copied per backup step; between steps other connections may write.
BACKUP_PAGES_PER_STEP = 1024
#: Pause between steps, in seconds.
BACKUP_STEP_SLEEP = 0.005
#: A step-wise copy restarts when another connection writes the source. After this many steps
#: beyond what the database size needs, the copy is redone in a single step (one read
#: transaction: in WAL mode it does not block writers).
BACKUP_EXTRA_STEPS = 200


class SQLiteConnectionSchema(ConfigSchema):
    file_path = AbsolutePathField()


class _TooManyRestarts(Exception):
    pass


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_source(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise EngineError(f"The SQLite database file {path} does not exist.")
    if not path.is_file():
        raise EngineError(f"The SQLite database path {path} is not a regular file.")
    if not os.access(path, os.R_OK):
        raise EngineError(f"The SQLite database file {path} is not readable.")
    try:
        source = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        # Reading the schema fails at once on a file that is not a database.
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise EngineError(f"Cannot read {path} as an SQLite database: {exc}.") from exc
    return source


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, path: Path) -> None:
    steps = 0

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal steps
        steps += 1
        if steps > total // BACKUP_PAGES_PER_STEP + BACKUP_EXTRA_STEPS:
            raise _TooManyRestarts

    try:
        try:
            source.backup(
                target,
                pages=BACKUP_PAGES_PER_STEP,
                progress=progress,
                sleep=BACKUP_STEP_SLEEP,
            )
        except _TooManyRestarts:
            source.backup(target, pages=-1)
    except sqlite3.DatabaseError as exc:
        raise EngineError(f"Copying the SQLite database {path} failed: {exc}.") from exc


def count_tables_and_rows(connection: sqlite3.Connection) -> tuple[int, int]:
    """The number of user tables in a database and the rows they hold. A virtual table whose
    module is not loaded here cannot be counted and adds no rows."""
    tables = [
        str(row[0])
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%'"
            " ESCAPE '\\'"
        )
    ]
    rows = 0
    for table in tables:
        try:
            query = f"SELECT COUNT(*) FROM {_quote_identifier(table)}"  # noqa: S608
            (count,) = connection.execute(query).fetchone()
        except sqlite3.OperationalError:
            continue
        rows += int(count)
    return len(tables), rows


def _inspect(copy: sqlite3.Connection, path: Path) -> dict[str, Any]:
    try:
        copy.execute("PRAGMA journal_mode=DELETE").fetchone()
        problems = [str(row[0]) for row in copy.execute("PRAGMA quick_check(20)")]
        if problems != ["ok"]:
            raise EngineError(
                f"The copy of the SQLite database {path} failed its integrity check: "
                + "; ".join(problems)[:2000]
            )
        tables, rows = count_tables_and_rows(copy)
    except sqlite3.DatabaseError as exc:
        raise EngineError(f"The copy of the SQLite database {path} is unusable: {exc}.") from exc
    return {
        "database_version": f"SQLite {sqlite3.sqlite_version}",
        "tables_backed_up": tables,
        "rows_approximate": rows,
        "engine_output": "",
    }


class _FileStream:
    """Streams a finished copy from disk."""

    def __init__(self, file: IO[bytes], result: BackupResult) -> None:
        self._file = file
        self._result = result
        self._aborted = False

    def read(self, size: int = -1, /) -> bytes:
        if self._aborted:
            raise EngineError("The SQLite backup was aborted.")
        return self._file.read(size)

    def finish(self) -> BackupResult:
        if self._aborted:
            raise EngineError("The SQLite backup was aborted.")
        self._file.close()
        return self._result

    def abort(self) -> None:
        self._aborted = True
        self._file.close()


def _remove(copy_path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{copy_path}{suffix}")


class SQLiteEngine(Engine):
    extension = "db"
    name = "sqlite"
    label = "SQLite"
    config_schema = SQLiteConnectionSchema
    path_field = "file_path"
    path_label = "Database file"

    @contextlib.contextmanager
    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> Iterator[BackupStream]:
        path = Path(config["file_path"])
        temp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="sqlite-", suffix=".db", dir=temp_dir)  # mode 0600
        os.close(fd)
        copy_path = Path(name)
        stream: _FileStream | None = None
        try:
            source = _open_source(path)
            try:
                copy = sqlite3.connect(copy_path)
                try:
                    _copy(source, copy, path)
                    metadata = _inspect(copy, path)
                finally:
                    copy.close()
            finally:
                source.close()
            stream = _FileStream(open(copy_path, "rb"), BackupResult(metadata))  # noqa: SIM115
            yield stream
        finally:
            if stream is not None:
                stream.abort()
            _remove(copy_path)

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        return _check_health(Path(config["file_path"]), timeout)

    # --- Restore --------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        return _restore(Path(config["file_path"]), source)

    # --- Verification ---------------------------------------------------------------------

    def scratch(self, server: Mapping[str, Any], temp_dir: Path) -> AbstractContextManager[Scratch]:
        """A database file in the verification's own temporary directory."""
        return contextlib.nullcontext(
            Scratch({"file_path": str(temp_dir / "restored.sqlite3")}, _inspect_restored)
        )


def _inspect_restored(config: dict[str, Any], assertions: list[str]) -> Inspection:
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
    return Inspection(tables=tables, rows=rows, checks=[integrity_check], assertions=results)


# --- Health check ---------------------------------------------------------------------------

#: SQLite calls the progress handler every this many virtual-machine instructions.
_PROGRESS_INSTRUCTIONS = 10_000


def _check_health(path: Path, timeout: float) -> HealthResult:
    """Open the file read-only and run ``PRAGMA quick_check``.

    A missing file is ``unreachable`` (there is nothing to reach, as with a host that is down);
    a file that exists but cannot be read or is not a sound database is ``error``. The progress
    handler interrupts a quick_check of a large file once ``timeout`` has passed.
    """
    started = time.monotonic()
    if not path.exists():
        return HealthResult(
            "unreachable",
            elapsed_ms(started),
            error_message=f"The SQLite database file {path} does not exist.",
        )
    if not path.is_file() or not os.access(path, os.R_OK):
        return HealthResult(
            "error",
            elapsed_ms(started),
            error_message=f"The SQLite database path {path} is not a readable file.",
        )
    deadline = started + timeout
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            connection.set_progress_handler(
                lambda: int(time.monotonic() > deadline), _PROGRESS_INSTRUCTIONS
            )
            problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check(5)")]
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        if time.monotonic() > deadline:
            return HealthResult(
                "timeout",
                elapsed_ms(started),
                error_message=f"The quick_check of {path} did not finish in {timeout:g}s.",
            )
        return HealthResult(
            "error", elapsed_ms(started), error_message=f"Cannot check {path}: {exc}."
        )
    except sqlite3.DatabaseError as exc:
        return HealthResult(
            "error", elapsed_ms(started), error_message=f"Cannot check {path}: {exc}."
        )
    latency = elapsed_ms(started)
    if problems != ["ok"]:
        return HealthResult(
            "error",
            latency,
            error_message=f"{path} failed its integrity check: " + "; ".join(problems)[:1000],
        )
    return HealthResult(
        "ok",
        latency,
        metadata={
            "check": "quick_check",
            "size_bytes": path.stat().st_size,
            "version": f"SQLite {sqlite3.sqlite_version}",
        },
    )


# --- Restore --------------------------------------------------------------------------------

RESTORE_CHUNK_BYTES = 1024 * 1024


def _restore(target: Path, source: RestoreSource) -> dict[str, Any]:
    """Write the database to a temporary file beside ``target``, check it, then swap it in
    with one ``os.replace``: a reader sees the old database or the new one, never a mix, and
    a failed restore leaves the old one untouched. Stop the application first all the same:
    connections it holds keep using the replaced file."""
    directory = target.parent
    if not directory.is_dir():
        raise EngineError(f"The directory of the SQLite target {target} does not exist.")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.restoring-", dir=directory)
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            while data := source.read(RESTORE_CHUNK_BYTES):
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        problems = _integrity_problems(staged)
        if problems != ["ok"]:
            raise EngineError(
                "The restored SQLite database failed its integrity check: "
                + "; ".join(problems)[:2000]
            )
        if target.exists():
            staged.chmod(target.stat().st_mode & 0o7777)
        # A journal left by the old database would be replayed into the new one.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return {"database_version": f"SQLite {sqlite3.sqlite_version}", "file_path": str(target)}


def _integrity_problems(path: Path) -> list[str]:
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            return [str(row[0]) for row in connection.execute("PRAGMA integrity_check(20)")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
