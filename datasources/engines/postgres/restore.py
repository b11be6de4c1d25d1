"""The pg_restore run: version checks, then the dump streamed, spooled or extracted."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasources.engines.base import EngineError, RestoreSource
from datasources.engines.postgres.backup import pgpass_line
from datasources.engines.postgres.clients import (
    PostgresConnectionSchema,
    choose_pg_restore,
    installed_pg_dumps,
    libpq_env,
    major_of,
    read_server_info,
    server_major,
)
from datasources.engines.process import ToolProcess, feed_tool, secret_file

RESTORE_DIRECTORY_NAME = "pgrestore"
SPOOL_NAME = "restore.dump"
SPOOL_CHUNK_BYTES = 1024 * 1024


def _restore_argv(pg_restore: Path, config: dict[str, Any], options: dict[str, Any]) -> list[str]:
    connection = PostgresConnectionSchema.parse(config)
    argv = [
        str(pg_restore),
        "--no-password",
        "--exit-on-error",
        f"--host={connection.host}",
        f"--port={connection.port}",
        f"--username={connection.username}",
        f"--dbname={connection.database}",
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


def restore_database(
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
    secrets = [PostgresConnectionSchema.parse(config).password]
    engine_facts = manifest.get("engine") or {}
    info = read_server_info(config, secrets)
    target_major = server_major(info.version_num)
    dumped = engine_facts.get("database_version")
    dumped_major = major_of(dumped)
    if dumped_major is not None and dumped_major > target_major:
        raise EngineError(
            f"The backup is of {dumped}, newer than the target server (PostgreSQL "
            f"{info.version}); PostgreSQL cannot restore a dump into an older major version."
        )
    needed = max(target_major, major_of(engine_facts.get("tool_version")) or 0)
    client = choose_pg_restore(needed, installed_pg_dumps())
    pg_restore = client.path.with_name("pg_restore")
    jobs = int(options.get("jobs") or 1)
    artifact_format = engine_facts.get("artifact_format") or "dump"

    with secret_file(temp_dir, "pgpass", pgpass_line(config)) as passfile:
        env = libpq_env(temp_dir, passfile, config, "dataguardian-restore")
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
