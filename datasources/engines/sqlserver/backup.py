"""The backup: ``sqlpackage /Action:Export`` to a ``.bacpac`` in the run's temp dir, then
that file streamed into the pipeline.

sqlpackage cannot write a bacpac to stdout (it is a zip package, written with seeks), so the
whole export lands in a temporary file first: as large as the bacpac (compressed table data,
usually a fraction of the database's size), plus the table data sqlpackage buffers in
``TempDirectoryForTableData`` while it writes. Both live in the run's temp dir, which only
the worker can read, and are removed when the backup's context exits, whatever happened.
"""

from __future__ import annotations

import secrets as _random
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from datasources.engines.base import BackupResult, BackupStream, EngineError
from datasources.engines.process import tool_path
from datasources.engines.sqlserver.driver import (
    Catalogue,
    SQLServerConnectionSchema,
    read_catalogue,
)
from datasources.engines.sqlserver.sqlpackage import (
    SQLPACKAGE,
    SqlPackageRun,
    connection_parameters,
    properties,
    started,
    tool_version,
)

READ_CHUNK_BYTES = 1024 * 1024
#: What a bacpac of a live database is, recorded with every backup (docs/ENGINES.md).
CONSISTENCY = (
    "bacpac export: not transactionally consistent if the database is written to during the "
    "export (export a quiesced database or a copy of it for a consistent one)"
)


class BacpacStream:
    """A ``BackupStream`` over the bacpac sqlpackage writes: the first ``read`` waits for the
    export to end, then the file is read to its end; ``finish`` builds the result."""

    def __init__(
        self, run: SqlPackageRun, bacpac: Path, on_success: Callable[[str], BackupResult]
    ) -> None:
        self.run = run
        self._bacpac = bacpac
        self._on_success = on_success
        self._file: IO[bytes] | None = None
        self._output = ""
        self._aborted = False

    @property
    def pid(self) -> int:
        return self.run.pid

    def _open(self) -> IO[bytes]:
        if self._aborted:
            raise EngineError("The SQL Server export was aborted.")
        if self._file is None:
            self._output = self.run.check("export")
            if not self._bacpac.is_file():
                raise EngineError(f"sqlpackage export ended without writing {self._bacpac.name}.")
            self._file = self._bacpac.open("rb")
        return self._file

    def read(self, size: int = -1, /) -> bytes:
        return self._open().read(size if size and size > 0 else READ_CHUNK_BYTES)

    def finish(self) -> BackupResult:
        self._open()
        result = self._on_success(self._output)
        result.metadata["bacpac_bytes"] = self._bacpac.stat().st_size
        return result

    def abort(self) -> None:
        self._aborted = True
        self.run.abort()
        if self._file is not None:
            self._file.close()


def export_parameters(
    config: dict[str, Any], bacpac: Path, table_data: Path
) -> list[tuple[str, str]]:
    connection = SQLServerConnectionSchema.parse(config)
    return [
        ("Action", "Export"),
        *connection_parameters(
            "Source",
            connection,
            trust_certificate=SQLServerConnectionSchema.trusts_certificate(config),
        ),
        ("TargetFile", str(bacpac)),
        ("OverwriteFiles", "False"),
        *properties(
            {
                "TempDirectoryForTableData": str(table_data),
                "CommandTimeout": "600",
                "LongRunningCommandTimeout": "0",
            }
        ),
    ]


def backup_metadata(catalogue: Catalogue, version: str, output: str) -> BackupResult:
    return BackupResult(
        metadata={
            "database_version": catalogue.version,
            "tool_version": version,
            "tables_backed_up": len(catalogue.tables),
            "rows_approximate": catalogue.rows,
            "engine_output": output,
            "consistency": CONSISTENCY,
        }
    )


@contextmanager
def open_backup(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path
) -> Iterator[BackupStream]:
    connection = SQLServerConnectionSchema.parse(config)
    secrets = [connection.password]
    sqlpackage = tool_path(SQLPACKAGE)
    version = tool_version(sqlpackage, temp_dir)
    catalogue = read_catalogue(connection)
    token = _random.token_hex(6)
    bacpac = temp_dir / f"export-{token}.bacpac"
    table_data = temp_dir / f"tabledata-{token}"
    table_data.mkdir(mode=0o700)
    try:
        parameters = export_parameters(config, bacpac, table_data)
        with started(sqlpackage, temp_dir, parameters, secrets) as run:
            stream = BacpacStream(
                run, bacpac, lambda output: backup_metadata(catalogue, version, output)
            )
            try:
                yield stream
            finally:
                stream.abort()
    finally:
        bacpac.unlink(missing_ok=True)
        shutil.rmtree(table_data, ignore_errors=True)
