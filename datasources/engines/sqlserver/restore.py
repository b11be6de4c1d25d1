"""The restore: the bacpac spooled to a file, then ``sqlpackage /Action:Import``.

A bacpac is a zip package and sqlpackage reads it by seeking, so it cannot come from a pipe:
the decompressed artifact is written to a 0600 file in the restore's temp dir first (as large
as the bacpac) and removed afterwards. If the stored bytes fail their checksums while they are
spooled, sqlpackage never starts and the target is untouched.
"""

from __future__ import annotations

import os
import secrets as _random
from pathlib import Path
from typing import Any

from datasources.engines.base import RestoreSource
from datasources.engines.process import tool_path
from datasources.engines.sqlserver.driver import SQLServerConnectionSchema, require_empty_target
from datasources.engines.sqlserver.sqlpackage import (
    SQLPACKAGE,
    connection_parameters,
    properties,
    run_to_end,
    tool_version,
)

SPOOL_CHUNK_BYTES = 1024 * 1024


def spool(source: RestoreSource, path: Path) -> int:
    """Write everything ``source`` yields to a new 0600 file; returns its size."""
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while data := source.read(SPOOL_CHUNK_BYTES):
            out.write(data)
            size += len(data)
    return size


def import_parameters(config: dict[str, Any], bacpac: Path) -> list[tuple[str, str]]:
    connection = SQLServerConnectionSchema.parse(config)
    return [
        ("Action", "Import"),
        ("SourceFile", str(bacpac)),
        *connection_parameters(
            "Target",
            connection,
            trust_certificate=SQLServerConnectionSchema.trusts_certificate(config),
        ),
        *properties({"CommandTimeout": "600"}),
    ]


def restore_database(
    config: dict[str, Any], source: RestoreSource, temp_dir: Path
) -> dict[str, Any]:
    """Import the bacpac into the target database, which must be empty or absent
    (sqlpackage creates it then)."""
    connection = SQLServerConnectionSchema.parse(config)
    secrets = [connection.password]
    sqlpackage = tool_path(SQLPACKAGE)
    version = tool_version(sqlpackage, temp_dir)
    existed = require_empty_target(connection)
    bacpac = temp_dir / f"restore-{_random.token_hex(6)}.bacpac"
    try:
        size = spool(source, bacpac)
        output = run_to_end(
            sqlpackage, temp_dir, import_parameters(config, bacpac), secrets, "import"
        )
    finally:
        bacpac.unlink(missing_ok=True)
    return {
        "tool_version": version,
        "engine_output": output,
        "database": connection.database,
        "database_created": not existed,
        "bacpac_bytes": size,
    }
