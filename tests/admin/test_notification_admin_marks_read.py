"""Notifications are marked read and unread from the changelist."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification

CHANGELIST = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def notifications(db):
    return [
        Notification.objects.create(
            type="backup_failed", severity="critical", entity_type="system", title=f"n{i}"
        )
        for i in range(3)
    ]


def test_the_mark_as_read_action_marks_the_selected_notifications(admin_client, notifications):
    selected = [str(n.pk) for n in notifications[:2]]
    response = admin_client.post(
        CHANGELIST, {"action": "mark_as_read", "_selected_action": selected}, follow=True
    )
    assert response.status_code == 200
    assert "Marked 2 notification(s) as read." in response.content.decode()
    assert Notification.objects.filter(read_at__isnull=False).count() == 2
    assert Notification.objects.get(pk=notifications[2].pk).read_at is None


def test_the_mark_as_unread_action_clears_the_read_time(admin_client, notifications):
    Notification.objects.update(read_at=timezone.now())
    response = admin_client.post(
        CHANGELIST,
        {"action": "mark_as_unread", "_selected_action": [str(notifications[0].pk)]},
        follow=True,
    )
    assert "Marked 1 notification(s) as unread." in response.content.decode()
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_the_unread_filter_lists_only_unread_notifications(admin_client, notifications):
    Notification.objects.filter(pk=notifications[0].pk).update(read_at=timezone.now())
    response = admin_client.get(CHANGELIST, {"read": "no"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
