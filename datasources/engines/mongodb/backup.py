"""The mongodump backup: which collections, the argv, and the archive as a stream."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datasources.engines.base import BackupResult, BackupStream, EngineError
from datasources.engines.mongodb.client import (
    DUMP_TOOL,
    Collection,
    MongoConnection,
    connection_argv,
    first_line,
    read_catalogue,
    tool_config,
)
from datasources.engines.process import (
    ProcessStream,
    ToolProcess,
    run_tool,
    secret_file,
    tool_env,
    tool_path,
)


def select_collections(
    collections: Sequence[Collection], include: Sequence[str], exclude: Sequence[str]
) -> list[Collection]:
    """The collections a dump with these patterns (``fnmatch`` globs) holds. An include
    pattern that matches nothing is an error: a typo must not quietly back up nothing."""
    names = [collection.name for collection in collections]
    for pattern in include:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise EngineError(f"include_collections pattern {pattern!r} matches no collection.")
    selected = [
        collection
        for collection in collections
        if (not include or any(fnmatch.fnmatchcase(collection.name, p) for p in include))
        and not any(fnmatch.fnmatchcase(collection.name, p) for p in exclude)
    ]
    if include and not selected:
        raise EngineError("exclude_collections leaves none of the included collections.")
    return selected


def dump_argv(
    dump_tool: str,
    connection: MongoConnection,
    config_file: Path,
    *,
    oplog: bool,
    excluded: Sequence[str],
) -> list[str]:
    """mongodump's argv: the archive on stdout, uncompressed (the pipeline compresses).

    Without ``oplog`` the dump is of the datasource's database (``--db``), the collections
    left out named one by one (``--excludeCollection``; mongodump takes one ``--collection``
    at most, so an include list becomes the exclusion of the rest). ``--oplog`` is refused
    by mongodump together with ``--db``: such a dump covers the whole instance.
    """
    argv = [dump_tool, *connection_argv(connection, config_file), "--archive"]
    if oplog:
        argv.append("--oplog")
    else:
        argv.append(f"--db={connection.database}")
        argv += [f"--excludeCollection={name}" for name in excluded]
    return argv


@contextmanager
def open_backup(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path
) -> Iterator[BackupStream]:
    connection = MongoConnection.parse(config)
    secrets = connection.secrets
    include = list(options.get("include_collections") or [])
    exclude = list(options.get("exclude_collections") or [])
    oplog = bool(options.get("oplog"))
    if oplog and (include or exclude):
        raise EngineError(
            "A point-in-time (oplog) MongoDB dump covers the whole instance; it cannot be "
            "limited to some collections. Clear include_collections / exclude_collections or "
            "turn the oplog option off."
        )
    dump_tool = tool_path(DUMP_TOOL)
    env = tool_env(temp_dir)
    tool_version = first_line(run_tool([dump_tool, "--version"], env, secrets=secrets))
    catalogue = read_catalogue(connection)
    selected = select_collections(catalogue.collections, include, exclude)
    excluded = [c.name for c in catalogue.collections if c not in selected]

    def result(tail: str) -> BackupResult:
        return BackupResult(
            metadata={
                "database_version": catalogue.version,
                "tool_version": tool_version,
                "source_database": connection.database,
                "tables_backed_up": len(selected),
                "rows_approximate": sum(c.documents for c in selected),
                "oplog": oplog,
                "engine_output": tail,
            },
            restore_facts={"source_database": connection.database, "oplog": oplog},
        )

    with secret_file(temp_dir, "mongodump.yaml", tool_config(connection)) as config_file:
        argv = dump_argv(dump_tool, connection, config_file, oplog=oplog, excluded=excluded)
        stream = ProcessStream(ToolProcess(argv, env, secrets=secrets), result)
        try:
            yield stream
        finally:
            stream.abort()
