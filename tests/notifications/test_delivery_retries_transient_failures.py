"""A receiver that answers 500 twice, then 200: the delivery is retried with backoff by a
real worker, and every attempt is recorded."""

from __future__ import annotations

import pytest
from django.db import transaction

from notifications.models import Delivery, NotificationType, Severity
from notifications.service import notify
from tests.support.loopback import http_receiver

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_500s_then_a_200_give_three_attempts_with_growing_delays(
    notifications_worker, webhook_channel, settings
):
    # The backoff is shortened by its setting; the code path is the production one.
    settings.NOTIFICATION_RETRY_DELAY = 0.5
    with http_receiver([500, 500, 200]) as receiver:
        channel = webhook_channel(receiver.url())
        with transaction.atomic():
            notification = notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "It broke")
        requests = receiver.wait_for(3)
        deliveries = _wait_for_sent(notification.pk)

    assert len(requests) == 3
    assert [(d.attempt, d.status, d.code) for d in deliveries] == [
        (1, "retrying", 500),
        (2, "retrying", 500),
        (3, "sent", 200),
    ]
    first_gap = requests[1].at - requests[0].at
    second_gap = requests[2].at - requests[1].at
    assert first_gap >= 0.45
    assert second_gap >= 0.95  # twice the first delay
    # The same webhook-id on every attempt, so a receiver can drop duplicates.
    assert len({r.headers.get("webhook-id") for r in requests}) == 1
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0
    assert channel.last_success_at is not None


def test_a_4xx_answer_is_not_retried(notifications_worker, webhook_channel, settings):
    settings.NOTIFICATION_RETRY_DELAY = 0.2
    with http_receiver([404]) as receiver:
        webhook_channel(receiver.url())
        with transaction.atomic():
            notification = notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "It broke")
        receiver.wait_for(1)
        deliveries = _wait_for(notification.pk, lambda ds: ds and ds[-1].status == "failed")
        receiver.wait_for(2, timeout=1.5)
        assert len(receiver.requests) == 1
    assert [(d.attempt, d.status, d.code) for d in deliveries] == [(1, "failed", 404)]


def _wait_for(notification_id, done, timeout: float = 30.0) -> list[Delivery]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        deliveries = list(
            Delivery.objects.filter(notification_id=notification_id).order_by("attempt")
        )
        if done(deliveries) or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.1)


def _wait_for_sent(notification_id) -> list[Delivery]:
    return _wait_for(notification_id, lambda ds: any(d.status == "sent" for d in ds))
