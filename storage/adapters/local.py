"""A directory on the DataGuardian host (or a mount on it)."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from storage.adapters.base import StorageAdapter


class LocalConfig(ConfigSchema):
    path = serializers.CharField(max_length=4096)
    max_size_gb = serializers.FloatField(min_value=0.001, required=False, allow_null=True)

    def validate_path(self, value: str) -> str:
        if not value.startswith("/"):
            raise serializers.ValidationError("Give an absolute path.")
        return value


class LocalAdapter(StorageAdapter):
    name = "local"
    label = "Local directory"
    config_schema = LocalConfig
