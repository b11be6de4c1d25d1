"""MongoDB datasources: backups with ``mongodump --archive``, restores with ``mongorestore``,
health checks and verification counts with pymongo."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from datasources.engines.base import BackupStream, DatabaseEngine, HealthResult, RestoreSource
from datasources.engines.mongodb.backup import open_backup
from datasources.engines.mongodb.client import (
    DUMP_TOOL,
    RESTORE_TOOL,
    MongoDBConnectionSchema,
)
from datasources.engines.mongodb.health import check_health
from datasources.engines.mongodb.restore import restore_database
from datasources.engines.mongodb.scratch import mongodb_scratch
from datasources.engines.verification import Scratch

__all__ = ["MongoDBConnectionSchema", "MongoDBEngine"]


class MongoDBOptions(ConfigSchema):
    include_collections = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        label="Only these collections",
        help_text="MongoDB: one collection or glob pattern per line. Empty: every collection.",
    )
    exclude_collections = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        label="Skip these collections",
        help_text="MongoDB: one collection or glob pattern per line.",
    )
    oplog = serializers.BooleanField(
        required=False,
        label="Point-in-time dump (oplog)",
        help_text="MongoDB replica sets: mongodump --oplog, a consistent dump of the whole "
        "instance (every database; no collection selection).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("oplog") and (
            attrs.get("include_collections") or attrs.get("exclude_collections")
        ):
            raise serializers.ValidationError(
                {
                    "oplog": [
                        "A point-in-time (oplog) dump covers the whole instance; it cannot be "
                        "limited to some collections."
                    ]
                }
            )
        return attrs


class MongoDBRestoreOptions(ConfigSchema):
    drop = serializers.BooleanField(
        required=False,
        label="Drop each collection before restoring it",
        help_text="Replaces what the target holds of the backup's collections "
        "(mongorestore --drop).",
    )


class MongoDBEngine(DatabaseEngine):
    name = "mongodb"
    label = "MongoDB"
    config_schema = MongoDBConnectionSchema
    extension = "archive"
    options_schema = MongoDBOptions
    restore_options_schema = MongoDBRestoreOptions
    admin_restore_options = ("drop",)
    replace_option = "drop"
    tools = (DUMP_TOOL, RESTORE_TOOL)

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
        return mongodb_scratch(server)
