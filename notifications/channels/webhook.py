"""Webhooks: a JSON POST signed with the Standard Webhooks scheme."""

from __future__ import annotations

from rest_framework import serializers

from core.registry import ConfigSchema
from notifications.channels.base import Channel, DeliveryResult, Message


class WebhookConfig(ConfigSchema):
    url = serializers.URLField(max_length=2048)
    secret = serializers.CharField(
        max_length=2048,
        required=False,
        allow_blank=True,
        default="",
        help_text="whsec_… signing secret; several, separated by spaces, while rotating. "
        "Empty: requests are not signed.",
    )
    headers = serializers.CharField(
        max_length=8192,
        required=False,
        allow_blank=True,
        default="",
        help_text="Extra request headers, one 'Name: value' per line.",
    )


class WebhookChannel(Channel):
    name = "webhook"
    label = "Webhook (signed JSON POST)"
    config_schema = WebhookConfig
    secret_fields = frozenset({"secret", "headers"})

    def send(self, message: Message) -> DeliveryResult:
        raise NotImplementedError

    def target(self) -> str:
        raise NotImplementedError
