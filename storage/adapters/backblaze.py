"""Backblaze B2, through its S3-compatible API."""

from __future__ import annotations

from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from storage.adapters.base import StorageAdapter


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


class BackblazeAdapter(StorageAdapter):
    name = "backblaze"
    label = "Backblaze B2"
    config_schema = BackblazeConfig
    secret_fields = frozenset({"application_key"})
