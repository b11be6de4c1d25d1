"""The structures of ``BackupJob.retention_policy`` and ``BackupJob.backup_options``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from datasources.engines import ENGINES, assembled_schema

COMPRESSIONS = ["gzip", "zstd", "lz4", "none"]

# Levels each compressor accepts (zstd goes past the seed's 1-9; its default is 3).
COMPRESSION_LEVELS = {"gzip": (1, 9), "zstd": (1, 19), "lz4": (0, 16), "none": (0, 0)}


class RetentionPolicySchema(ConfigSchema):
    keep_daily = serializers.IntegerField(min_value=0, max_value=3650, default=7)
    keep_weekly = serializers.IntegerField(min_value=0, max_value=520, default=4)
    keep_monthly = serializers.IntegerField(min_value=0, max_value=1200, default=12)
    auto_delete = serializers.BooleanField(default=False)


class CommonBackupOptions(ConfigSchema):
    """The options every backup reads, whatever its engine: the pipeline compresses, chunks
    and verifies. Each engine adds its own (``Engine.options_schema``)."""

    compression = serializers.ChoiceField(choices=COMPRESSIONS, default="zstd")
    compression_level = serializers.IntegerField(required=False, allow_null=True)
    compression_threads = serializers.IntegerField(
        min_value=0,
        max_value=64,
        required=False,
        default=1,
        help_text="zstd worker threads; 1 leaves the other cores to the database, 0 = all cores.",
    )
    max_file_size_mb = serializers.IntegerField(
        min_value=1, max_value=5 * 1024 * 1024, required=False, allow_null=True
    )
    verify_after_backup = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Restore each successful backup into a scratch target and check it.",
    )
    verification_assertions = serializers.ListField(
        child=serializers.CharField(max_length=4000),
        max_length=20,
        required=False,
        default=list,
        help_text="SQL queries run in the verified copy; each must return one truthy value.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        level = attrs.get("compression_level")
        if level is not None:
            low, high = COMPRESSION_LEVELS[attrs["compression"]]
            if not low <= level <= high:
                raise serializers.ValidationError(
                    {
                        "compression_level": [
                            f"{attrs['compression']} takes a level from {low} to {high}."
                        ]
                    }
                )
        return attrs


#: A job's ``backup_options``: the common options and every engine's. An option of another
#: engine than the job's is kept as stored and ignored by the backup.
BackupOptionsSchema = assembled_schema("BackupOptionsSchema", "options_schema", CommonBackupOptions)


def engine_options(
    datasource_type: str, options: dict[str, Any]
) -> tuple[type[ConfigSchema], dict[str, Any]]:
    """The engine's own options schema and the part of ``options`` it declares."""
    schema = ENGINES.get(datasource_type).options_schema
    return schema, {key: options[key] for key in schema._declared_fields if key in options}


def validate_for_engine(datasource_type: str, options: dict[str, Any]) -> None:
    """Run the checks an engine makes across its own options (MongoDB: no collection
    selection with an oplog dump), which the assembled schema cannot know. Raises
    ``serializers.ValidationError`` keyed by option."""
    schema, subset = engine_options(datasource_type, options)
    schema.validate_data(subset)


def default_retention_policy() -> dict[str, Any]:
    return RetentionPolicySchema.validate_data({})


def default_backup_options() -> dict[str, Any]:
    return BackupOptionsSchema.validate_data({})
