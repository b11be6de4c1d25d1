"""What an SSH location stores: the server, the credentials, the pinned host key, the root."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.registry import AbsolutePathField, ConfigSchema


class SSHConfig(ConfigSchema):
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=22)
    username = serializers.CharField(max_length=255)
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    private_key = serializers.CharField(
        max_length=32768, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    private_key_passphrase = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    host_key = serializers.CharField(max_length=8192, required=False, allow_blank=True, default="")
    remote_path = AbsolutePathField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not attrs.get("password") and not attrs.get("private_key"):
            raise serializers.ValidationError({"password": ["Give a password or a private_key."]})
        return attrs
