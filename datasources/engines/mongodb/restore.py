"""The mongorestore run: the archive streamed into stdin, into the target's database.

The database a backup was taken from is needed to restore it under another name
(``--nsFrom``/``--nsTo``). The backup records it (``source_database``); the archive's own
prelude (the catalogue mongodump writes before any document) names it too, and is read when
the manifest does not carry it. Reading the prelude consumes the first bytes of the stream;
they are handed to mongorestore before the rest, so nothing is buffered beyond the prelude.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasources.engines.base import EngineError, RestoreSource
from datasources.engines.mongodb.client import (
    RESTORE_TOOL,
    SYSTEM_DATABASES,
    MongoConnection,
    connection_argv,
    first_line,
    tool_config,
)
from datasources.engines.process import feed_tool, run_tool, secret_file, tool_env, tool_path

#: The first four bytes of a mongodump archive (0x8199e26d, little-endian).
ARCHIVE_MAGIC = struct.pack("<I", 0x8199E26D)
#: What ends the prelude: a BSON length of -1.
PRELUDE_TERMINATOR = b"\xff\xff\xff\xff"
#: A prelude holds collection metadata (indexes, options); beyond this it is not a prelude.
PRELUDE_LIMIT_BYTES = 64 * 1024 * 1024


@dataclass
class Prelude:
    """The namespaces a mongodump archive announces before its documents."""

    databases: list[str]
    raw: bytes


def _read_exactly(source: RestoreSource, size: int, buffer: bytearray) -> bytes:
    data = b""
    while len(data) < size:
        piece = source.read(size - len(data))
        if not piece:
            raise EngineError("The backup ends inside the MongoDB archive prelude.")
        data += piece
    buffer += data
    return data


def read_prelude(source: RestoreSource) -> Prelude:
    """Read the archive's magic number, header and namespace documents up to the
    terminator, keeping every byte read so it can be replayed to mongorestore."""
    import bson

    raw = bytearray()
    if _read_exactly(source, 4, raw) != ARCHIVE_MAGIC:
        raise EngineError("The backup is not a mongodump archive (wrong magic number).")
    databases: list[str] = []
    header_seen = False
    while True:
        length_bytes = _read_exactly(source, 4, raw)
        if length_bytes == PRELUDE_TERMINATOR:
            break
        length = struct.unpack("<i", length_bytes)[0]
        if length < 5 or len(raw) + length > PRELUDE_LIMIT_BYTES:
            raise EngineError("The MongoDB archive prelude is malformed.")
        document = bson.decode(length_bytes + _read_exactly(source, length - 4, raw))
        if not header_seen:
            header_seen = True
            continue
        database = str(document.get("db") or "")
        if database and database not in databases:
            databases.append(database)
    return Prelude(databases, bytes(raw))


class ReplayedSource:
    """``source`` with the bytes already read from it put back in front."""

    def __init__(self, head: bytes, source: RestoreSource) -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:size], self._head[size:]
            return data
        return self._source.read(size)


def source_database(manifest: dict[str, Any], prelude: Prelude) -> str:
    """The database the backup was taken from: the backup's record, else the one user
    database the archive holds."""
    recorded = (manifest.get("engine") or {}).get("source_database")
    if recorded:
        return str(recorded)
    users = [name for name in prelude.databases if name not in SYSTEM_DATABASES]
    if len(users) == 1:
        return users[0]
    raise EngineError(
        "Cannot tell which database this MongoDB backup was taken from: its archive holds "
        f"{', '.join(users) or 'no database'}. Restore it by hand (docs/ENGINES.md)."
    )


def restore_argv(
    restore_tool: str,
    connection: MongoConnection,
    config_file: Path,
    *,
    source: str,
    drop: bool,
    oplog_archive: bool,
) -> list[str]:
    """mongorestore's argv, reading the archive on stdin.

    Into the database it came from, an oplog archive is replayed to its point in time
    (``--oplogReplay``, which mongorestore allows only for a restore of everything the archive
    holds). Into another database, only the source database's namespaces are restored,
    renamed (``--nsFrom``/``--nsTo``); mongorestore cannot replay an oplog across a rename.
    """
    target = connection.database
    argv = [restore_tool, *connection_argv(connection, config_file), "--archive"]
    if drop:
        argv.append("--drop")
    if source == target and oplog_archive:
        argv.append("--oplogReplay")
    else:
        argv.append(f"--nsInclude={source}.*")
    if source != target:
        argv += [f"--nsFrom={source}.*", f"--nsTo={target}.*"]
    return argv


def restore_database(
    config: dict[str, Any],
    options: dict[str, Any],
    source: RestoreSource,
    temp_dir: Path,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    connection = MongoConnection.parse(config)
    secrets: Sequence[str] = connection.secrets
    restore_tool = tool_path(RESTORE_TOOL)
    env = tool_env(temp_dir)
    tool_version = first_line(run_tool([restore_tool, "--version"], env, secrets=secrets))
    prelude = read_prelude(source)
    from_database = source_database(manifest, prelude)
    oplog_archive = bool((manifest.get("options") or {}).get("oplog"))
    with secret_file(temp_dir, "mongorestore.yaml", tool_config(connection)) as config_file:
        argv = restore_argv(
            restore_tool,
            connection,
            config_file,
            source=from_database,
            drop=bool(options.get("drop")),
            oplog_archive=oplog_archive,
        )
        tail = feed_tool(argv, env, ReplayedSource(prelude.raw, source).read, secrets=secrets)
    return {
        "tool_version": tool_version,
        "source_database": from_database,
        "database": connection.database,
        "oplog_replayed": "--oplogReplay" in argv,
        "engine_output": tail,
    }
