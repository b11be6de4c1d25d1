"""The admin sends a test through a channel and shows the unread count in its header."""

from __future__ import annotations

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


def test_the_header_shows_how_many_notifications_are_unread(admin_client):
    index = reverse("admin:index")
    assert "unread-notifications" not in admin_client.get(index).content.decode()
    notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "One")
    notify(NotificationType.STORAGE_FULL, Severity.WARNING, "Two")
    page = admin_client.get(index).content.decode()
    assert "2 unread notifications" in page
    assert "?read=no" in page
