"""A channel whose deliveries keep failing is marked failing and the others are told."""

from __future__ import annotations

import socket

import pytest

from notifications.delivery import deliver
from notifications.models import Notification, NotificationChannel, NotificationType, Severity
from notifications.rules import channels_for
from notifications.service import notify

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fail_once(channel: NotificationChannel) -> None:
    notification = notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "It broke")
    record = deliver(notification, channel, attempt=4, can_retry=False)
    assert record.status == "failed"
    assert record.error


def test_the_fifth_failure_in_a_row_marks_the_channel_and_tells_the_other_channels(
    webhook_channel, receiver
):
    broken = webhook_channel(f"http://127.0.0.1:{_closed_port()}/hook", name="broken")
    healthy = webhook_channel(receiver.url(), name="healthy")
    for _ in range(4):
        _fail_once(broken)
    broken.refresh_from_db()
    assert (broken.consecutive_failures, broken.failing_since) == (4, None)
    assert not Notification.objects.filter(type="channel_failing").exists()

    _fail_once(broken)
    broken.refresh_from_db()
    assert broken.consecutive_failures == 5
    assert broken.failing_since is not None
    announcement = Notification.objects.get(type="channel_failing")
    assert "broken" in announcement.title
    assert channels_for(announcement) == [healthy]

    _fail_once(broken)  # still failing: announced once
    assert Notification.objects.filter(type="channel_failing").count() == 1


def test_a_success_clears_the_count_and_the_failing_mark(webhook_channel, receiver, settings):
    channel = webhook_channel(f"http://127.0.0.1:{_closed_port()}/hook")
    for _ in range(5):
        _fail_once(channel)
    NotificationChannel.objects.filter(pk=channel.pk).update(config={"url": receiver.url()})
    channel.refresh_from_db()
    notification = notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "Again")
    assert deliver(notification, channel, attempt=1, can_retry=True).status == "sent"
    channel.refresh_from_db()
    assert (channel.consecutive_failures, channel.failing_since) == (0, None)


def test_a_transient_failure_with_retries_left_does_not_count(webhook_channel):
    channel = webhook_channel(f"http://127.0.0.1:{_closed_port()}/hook")
    notification = notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "It broke")
    assert deliver(notification, channel, attempt=1, can_retry=True).status == "retrying"
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0
