"""MinIO servers (S3 API)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from storage.adapters.s3 import S3CompatibleAdapter, S3Settings, checksums_field


class MinIOConfig(ConfigSchema):
    endpoint = serializers.CharField(max_length=1024)
    bucket = serializers.CharField(min_length=3, max_length=63)
    access_key = serializers.CharField(max_length=256)
    secret_key = serializers.CharField(max_length=1024, trim_whitespace=False)
    use_ssl = serializers.BooleanField(required=False, default=True)
    region = serializers.CharField(max_length=64, required=False, default="us-east-1")
    prefix = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    checksums = checksums_field()


def endpoint_url(endpoint: str, use_ssl: bool) -> str:
    """``host:port`` as MinIO's own tools write it, or a full URL, as boto3 needs it.

    A URL keeps its own scheme: someone who typed ``http://`` meant it, whatever ``use_ssl``
    says.
    """
    endpoint = endpoint.strip().rstrip("/")
    if "://" in endpoint:
        return endpoint
    return f"{'https' if use_ssl else 'http'}://{endpoint}"


class MinIOAdapter(S3CompatibleAdapter):
    name = "minio"
    label = "MinIO"
    config_schema = MinIOConfig
    secret_fields = frozenset({"secret_key"})

    @classmethod
    def s3_settings(cls, config: dict[str, Any]) -> S3Settings:
        return S3Settings(
            bucket=config["bucket"],
            prefix=config.get("prefix") or "",
            region=config.get("region") or "us-east-1",
            access_key_id=config["access_key"],
            secret_access_key=config["secret_key"],
            endpoint_url=endpoint_url(config["endpoint"], bool(config.get("use_ssl", True))),
            checksums=config.get("checksums") or "auto",
        )
