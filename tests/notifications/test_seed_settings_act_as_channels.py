"""The seed's notifications.* system settings keep working: set, they act as the default
e-mail and webhook channels; cleared, those channels are gone."""

from __future__ import annotations

import pytest

from core.fields import MASK
from notifications.models import NotificationChannel
from tests.support.api import SMTP, SMTP_SECRET

pytestmark = pytest.mark.django_db


def test_a_webhook_url_setting_becomes_the_system_webhook_channel(api, receiver):
    assert api.put("/api/system/settings", {"notifications.webhook_url": receiver.url()},
                   format="json").status_code == 200  # fmt: skip
    channel = NotificationChannel.objects.get(managed_by="notifications.webhook_url")
    assert (channel.name, channel.type, channel.config["url"]) == (
        "System webhook",
        "webhook",
        receiver.url(),
    )
    response = api.post(f"/api/notification-channels/{channel.id}/test")
    assert response.data["status"] == "sent"

    api.put("/api/system/settings", {"notifications.webhook_url": None}, format="json")
    assert not NotificationChannel.objects.filter(managed_by="notifications.webhook_url").exists()


def test_the_smtp_settings_become_the_system_email_channel_only_when_enabled(api):
    api.put("/api/system/settings", {"notifications.email_smtp_config": SMTP}, format="json")
    assert not NotificationChannel.objects.filter(type="email").exists()
    api.put("/api/system/settings", {"notifications.email_enabled": True}, format="json")
    channel = NotificationChannel.objects.get(managed_by="notifications.email_smtp_config")
    assert channel.config["host"] == SMTP["host"]
    assert channel.config["password"] == SMTP_SECRET
    shown = api.get(f"/api/notification-channels/{channel.id}").data
    assert shown["config"]["password"] == MASK

    api.put("/api/system/settings", {"notifications.email_enabled": False}, format="json")
    assert not NotificationChannel.objects.filter(type="email").exists()


def test_a_managed_channels_config_is_changed_through_its_setting_only(api, receiver):
    api.put("/api/system/settings", {"notifications.webhook_url": receiver.url()}, format="json")
    channel = NotificationChannel.objects.get(managed_by="notifications.webhook_url")
    response = api.patch(
        f"/api/notification-channels/{channel.id}",
        {"config": {"url": "http://127.0.0.1:1/"}},
        format="json",
    )
    assert response.status_code == 400
    assert "notifications.webhook_url" in str(response.data["config"])
    paused = api.patch(f"/api/notification-channels/{channel.id}", {"enabled": False},
                       format="json")  # fmt: skip
    assert paused.status_code == 200
    assert paused.data["enabled"] is False
