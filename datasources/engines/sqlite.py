"""SQLite database files."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from datasources.engines.base import Engine


class SQLiteConnectionSchema(ConfigSchema):
    file_path = serializers.CharField(max_length=4096)

    def validate_file_path(self, value: str) -> str:
        if not value.startswith("/"):
            raise serializers.ValidationError("Give an absolute path.")
        return value


class SQLiteEngine(Engine):
    name = "sqlite"
    label = "SQLite"
    config_schema = SQLiteConnectionSchema
