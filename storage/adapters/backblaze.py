"""Backblaze B2, through its S3-compatible API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from storage.adapters.s3 import S3CompatibleAdapter, S3Settings, checksums_field


class BackblazeConfig(ConfigSchema):
    bucket_id = serializers.CharField(max_length=64)
    bucket_name = serializers.CharField(min_length=6, max_length=63)
    application_key_id = serializers.CharField(max_length=256)
    application_key = serializers.CharField(max_length=1024, trim_whitespace=False)
    # The seed has no region/endpoint; B2's S3 API needs one. The endpoint defaults to the
    # region's standard address.
    region = serializers.CharField(max_length=64, required=False, default="us-west-004")
    endpoint = serializers.URLField(required=False, allow_null=True, allow_blank=True, default=None)
    prefix = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    checksums = checksums_field()


class BackblazeAdapter(S3CompatibleAdapter):
    name = "backblaze"
    label = "Backblaze B2"
    config_schema = BackblazeConfig
    secret_fields = frozenset({"application_key"})
    # B2's S3 API does not take If-None-Match on uploads; the existence check before an upload
    # is what keeps a stored file from being replaced.
    conditional_writes = False

    @classmethod
    def s3_settings(cls, config: dict[str, Any]) -> S3Settings:
        region = config.get("region") or "us-west-004"
        return S3Settings(
            bucket=config["bucket_name"],
            prefix=config.get("prefix") or "",
            region=region,
            access_key_id=config["application_key_id"],
            secret_access_key=config["application_key"],
            # B2 has no storage classes: every object is stored the same way.
            endpoint_url=config.get("endpoint") or f"https://s3.{region}.backblazeb2.com",
            checksums=config.get("checksums") or "auto",
        )
