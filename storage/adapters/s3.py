"""Amazon S3 and S3-compatible services (Wasabi and others)."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from storage.adapters.base import StorageAdapter


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


class S3Adapter(StorageAdapter):
    name = "s3"
    label = "Amazon S3 / S3-compatible"
    config_schema = S3Config
    secret_fields = frozenset({"secret_access_key"})
