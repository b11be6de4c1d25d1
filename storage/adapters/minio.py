"""MinIO servers (S3 API)."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from storage.adapters.base import StorageAdapter


class MinIOConfig(ConfigSchema):
    endpoint = serializers.CharField(max_length=1024)
    bucket = serializers.CharField(min_length=3, max_length=63)
    access_key = serializers.CharField(max_length=256)
    secret_key = serializers.CharField(max_length=1024, trim_whitespace=False)
    use_ssl = serializers.BooleanField(required=False, default=True)
    region = serializers.CharField(max_length=64, required=False, default="us-east-1")
    prefix = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")


class MinIOAdapter(StorageAdapter):
    name = "minio"
    label = "MinIO"
    config_schema = MinIOConfig
    secret_fields = frozenset({"secret_key"})
