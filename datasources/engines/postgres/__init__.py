"""PostgreSQL datasources: backups with the ``pg_dump`` that matches the server."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from datasources.engines.base import (
    BackupStream,
    DatabaseEngine,
    HealthResult,
    RestoreSource,
    TableSelectionOptions,
)
from datasources.engines.postgres.backup import DirectoryTarStream, open_backup, pgpass_line
from datasources.engines.postgres.clients import (
    PG_LIB_DIR,
    PgDumpClient,
    PostgresConnectionSchema,
    choose_pg_dump,
    installed_pg_dumps,
)
from datasources.engines.postgres.health import check_health
from datasources.engines.postgres.restore import restore_database
from datasources.engines.postgres.scratch import postgres_scratch
from datasources.engines.tools import Tool
from datasources.engines.verification import Scratch

__all__ = [
    "DirectoryTarStream",
    "PgDumpClient",
    "PostgresConnectionSchema",
    "PostgresEngine",
    "choose_pg_dump",
    "installed_pg_dumps",
    "pgpass_line",
]

_CLIENT_DIRS = (f"{PG_LIB_DIR}/*/bin",)


class PostgresOptions(TableSelectionOptions):
    parallel_jobs = serializers.IntegerField(
        min_value=1,
        max_value=64,
        required=False,
        default=1,
        label="Parallel dump jobs",
        help_text="pg_dump --jobs: tables dumped at once (above 1 the dump is in directory "
        "format).",
    )


class PostgresRestoreOptions(ConfigSchema):
    clean = serializers.BooleanField(
        required=False,
        label="Drop objects before recreating them",
        help_text="Replaces what the target holds of the backup's objects (pg_restore --clean).",
    )
    no_owner = serializers.BooleanField(
        required=False, help_text="pg_restore --no-owner (default on)."
    )
    no_acl = serializers.BooleanField(required=False, help_text="pg_restore --no-acl (default on).")
    schemas = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=100,
        help_text="Restore only these schemas; one per line. Empty: all.",
    )
    tables = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=1000,
        help_text="Restore only these tables; one per line. Empty: all.",
    )
    jobs = serializers.IntegerField(
        min_value=1, max_value=64, required=False, help_text="pg_restore --jobs."
    )


class PostgresEngine(DatabaseEngine):
    name = "postgres"
    label = "PostgreSQL"
    config_schema = PostgresConnectionSchema
    extension = "dump"
    options_schema = PostgresOptions
    replace_option = "clean"
    admin_restore_options = ("schemas", "tables", "clean")
    restore_options_schema = PostgresRestoreOptions
    scratch_server_setting = "verification.postgres_server"
    tools = (
        Tool(("pg_dump",), "postgresql-client", "PostgreSQL backups", _CLIENT_DIRS),
        Tool(("pg_restore",), "postgresql-client", "PostgreSQL restores", _CLIENT_DIRS),
    )

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

    # --- Verification ---------------------------------------------------------------------

    def scratch(self, server: Mapping[str, Any], temp_dir: Path) -> AbstractContextManager[Scratch]:
        return postgres_scratch(server)
