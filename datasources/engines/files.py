"""Directories of files, archived as tar."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from datasources.engines.base import Engine


class FilesConnectionSchema(ConfigSchema):
    source_path = serializers.CharField(max_length=4096)
    include_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )
    exclude_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )

    def validate_source_path(self, value: str) -> str:
        if not value.startswith("/"):
            raise serializers.ValidationError("Give an absolute path.")
        return value


class FilesEngine(Engine):
    name = "files"
    label = "Files"
    config_schema = FilesConnectionSchema
