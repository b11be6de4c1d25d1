"""The admin sends a test through a channel and shows the unread count in its header."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from notifications.models import NotificationChannel, NotificationType, Severity
from notifications.service import notify

pytestmark = pytest.mark.django_db


def _send_test(admin_client, channel):
    return admin_client.post(
        reverse("admin:notifications_notificationchannel_changelist"),
        {"action": "send_test_notification", "_selected_action": [str(channel.pk)]},
        follow=True,
    )


def test_send_test_reports_success_with_the_answer_code(admin_client, webhook_channel, receiver):
    channel = webhook_channel(receiver.url(), name="ops")
    messages = [str(m) for m in _send_test(admin_client, channel).context["messages"]]
    assert messages == [f"ops: sent (200) to {receiver.url()}."]
    assert len(receiver.wait_for(1)) == 1


def test_send_test_reports_the_exact_error(admin_client, webhook_channel):
    channel = webhook_channel("http://127.0.0.1:9/hook", name="dead")
    messages = [str(m) for m in _send_test(admin_client, channel).context["messages"]]
    assert len(messages) == 1
    assert messages[0].startswith("dead: failed — ")
    assert NotificationChannel.objects.get(pk=channel.pk).consecutive_failures == 0


def _unread_badge(page: str) -> str | None:
    """The badge of the sidebar's "Unread" entry, which links to the unread notifications."""
    entry = re.search(r'<a[^>]*href="[^"]*\?read=no"[^>]*>(.*?)</a>', page, re.S)
    assert entry is not None, "the sidebar links to the unread notifications"
    badge = re.search(r"<span[^>]*rounded[^>]*>\s*(\S+)\s*</span>", entry.group(1))
    return badge.group(1) if badge else None


def test_the_sidebar_shows_how_many_notifications_are_unread(admin_client):
    index = reverse("admin:index")
    assert _unread_badge(admin_client.get(index).content.decode()) is None
    notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "One")
    notify(NotificationType.STORAGE_FULL, Severity.WARNING, "Two")
    assert _unread_badge(admin_client.get(index).content.decode()) == "2"
