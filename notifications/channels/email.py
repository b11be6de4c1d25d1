"""E-mail over SMTP: STARTTLS, implicit TLS or plain, with optional login."""

from __future__ import annotations

from rest_framework import serializers

from core.registry import ConfigSchema
from notifications.channels.base import Channel, DeliveryResult, Message


class EmailConfig(ConfigSchema):
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, default=587)
    security = serializers.ChoiceField(
        choices=[
            ("starttls", "STARTTLS (usually port 587)"),
            ("tls", "Implicit TLS (usually port 465)"),
            ("none", "None (a relay on a trusted network)"),
        ],
        default="starttls",
    )
    username = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    from_email = serializers.EmailField()
    to = serializers.ListField(child=serializers.EmailField(), min_length=1)


class EmailChannel(Channel):
    name = "email"
    label = "E-mail (SMTP)"
    config_schema = EmailConfig
    secret_fields = frozenset({"password"})

    def send(self, message: Message) -> DeliveryResult:
        raise NotImplementedError

    def target(self) -> str:
        raise NotImplementedError
