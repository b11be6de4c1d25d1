"""Notification channels, one module per type. Adding a type is one module plus one line."""

from __future__ import annotations

from core.registry import Registry
from notifications.channels.base import Channel

CHANNELS: Registry[Channel] = Registry(
    "notification channel",
    {
        "email": "notifications.channels.email.EmailChannel",
        "webhook": "notifications.channels.webhook.WebhookChannel",
        "apprise": "notifications.channels.apprise_urls.AppriseChannel",
    },
)


def secret_fields() -> frozenset[str]:
    """Keys of a channel's ``config`` encrypted at rest (used by the model field)."""
    return CHANNELS.secret_fields()


def choices() -> list[tuple[str, str]]:
    """``(type, label)`` pairs for model, form and API choices."""
    return CHANNELS.choices()
