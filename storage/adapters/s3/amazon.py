"""Amazon S3 and the services that mimic it closely (Wasabi and others)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.registry import ConfigSchema
from storage.adapters.s3.adapter import S3CompatibleAdapter
from storage.adapters.s3.settings import S3Settings, checksums_field


class S3Config(ConfigSchema):
    endpoint = serializers.URLField(required=False, allow_null=True, allow_blank=True, default=None)
    bucket = serializers.CharField(min_length=3, max_length=63)
    region = serializers.CharField(max_length=64)
    access_key_id = serializers.CharField(max_length=256)
    secret_access_key = serializers.CharField(max_length=1024, trim_whitespace=False)
    storage_class = serializers.ChoiceField(
        choices=[
            "STANDARD",
            "STANDARD_IA",
            "ONEZONE_IA",
            "INTELLIGENT_TIERING",
            "GLACIER",
            "GLACIER_IR",
            "DEEP_ARCHIVE",
            "REDUCED_REDUNDANCY",
        ],
        required=False,
        allow_null=True,
    )
    prefix = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    checksums = checksums_field()


class S3Adapter(S3CompatibleAdapter):
    name = "s3"
    label = "Amazon S3 / S3-compatible"
    config_schema = S3Config
    secret_fields = frozenset({"secret_access_key"})

    @classmethod
    def s3_settings(cls, config: dict[str, Any]) -> S3Settings:
        return S3Settings(
            bucket=config["bucket"],
            prefix=config.get("prefix") or "",
            region=config.get("region") or None,
            access_key_id=config["access_key_id"],
            secret_access_key=config["secret_access_key"],
            endpoint_url=config.get("endpoint") or None,
            storage_class=config.get("storage_class") or None,
            checksums=config.get("checksums") or "auto",
        )
