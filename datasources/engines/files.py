"""Directories of files, archived as tar."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import AbsolutePathField, ConfigSchema
from datasources.engines.base import Engine


class FilesConnectionSchema(ConfigSchema):
    source_path = AbsolutePathField()
    include_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )
    exclude_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )


class FilesEngine(Engine):
    name = "files"
    label = "Files"
    config_schema = FilesConnectionSchema
