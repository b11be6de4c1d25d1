"""Chat and push services through Apprise URLs (Slack, Discord, Telegram, Teams, ntfy, Gotify,
Matrix, Pushover, …)."""

from __future__ import annotations

from rest_framework import serializers

from core.registry import ConfigSchema
from notifications.channels.base import Channel, DeliveryResult, Message


class AppriseConfig(ConfigSchema):
    urls = serializers.CharField(
        max_length=8192,
        help_text="One Apprise URL per line, e.g. ntfy://ntfy.example.org/backups or "
        "tgram://bot-token/chat-id.",
    )


class AppriseChannel(Channel):
    name = "apprise"
    label = "Apprise (chat and push services)"
    config_schema = AppriseConfig
    secret_fields = frozenset({"urls"})

    def send(self, message: Message) -> DeliveryResult:
        raise NotImplementedError

    def target(self) -> str:
        raise NotImplementedError
