"""A directory on the DataGuardian host (or a mount on it)."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import AbsolutePathField, ConfigSchema
from storage.adapters.base import StorageAdapter


class LocalConfig(ConfigSchema):
    path = AbsolutePathField()
    max_size_gb = serializers.FloatField(min_value=0.001, required=False, allow_null=True)


class LocalAdapter(StorageAdapter):
    name = "local"
    label = "Local directory"
    config_schema = LocalConfig
