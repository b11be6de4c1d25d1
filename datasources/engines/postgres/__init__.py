"""PostgreSQL datasources: backups with the ``pg_dump`` that matches the server."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from datasources.engines.base import (
    BackupStream,
    DatabaseConnectionSchema,
    DatabaseEngine,
    HealthResult,
    RestoreSource,
)
from datasources.engines.postgres.backup import DirectoryTarStream, open_backup, pgpass_line
from datasources.engines.postgres.clients import PgDumpClient, choose_pg_dump, installed_pg_dumps
from datasources.engines.postgres.health import check_health
from datasources.engines.postgres.restore import restore_database

__all__ = [
    "DirectoryTarStream",
    "PgDumpClient",
    "PostgresConnectionSchema",
    "PostgresEngine",
    "choose_pg_dump",
    "installed_pg_dumps",
    "pgpass_line",
]


class PostgresConnectionSchema(DatabaseConnectionSchema):
    default_port = 5432


class PostgresEngine(DatabaseEngine):
    name = "postgres"
    label = "PostgreSQL"
    config_schema = PostgresConnectionSchema
    extension = "dump"
    backup_options = frozenset({"include_tables", "exclude_tables", "parallel_jobs"})

    def artifact_extension(self, options: dict[str, Any]) -> str:
        # parallel_jobs > 1 uses pg_dump's directory format, streamed as a tar
        return "tar" if (options.get("parallel_jobs") or 1) > 1 else "dump"

    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> AbstractContextManager[BackupStream]:
        return open_backup(config, options, temp_dir)

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        return check_health(config, timeout)

    # --- Restore --------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        return restore_database(config, options, source, temp_dir, manifest)
