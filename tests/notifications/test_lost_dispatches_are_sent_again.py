"""The database, not the broker, holds what is still to be sent: a notification whose message
was lost is dispatched again by the periodic sweep, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from notifications.tasks import dispatch, dispatch_lost

pytestmark = pytest.mark.django_db


def _queued(broker) -> list[tuple[str, list[str]]]:
    """The messages waiting on the notifications queue (at every priority)."""
    return [task for key in broker.queues("notifications") for task in broker.tasks(key)]


def _recorded(minutes_ago: float, **fields) -> Notification:
    notification = Notification.objects.create(
        type="backup_failed", severity="critical", entity_type="system", title="t", **fields
    )
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return notification


def test_an_undispatched_notification_older_than_two_minutes_is_sent_again(broker):
    lost = _recorded(5)
    _recorded(0.5)  # its message may still be on its way
    _recorded(5, dispatched_at=timezone.now())  # done
    _recorded(60 * 30)  # too old: history, not news
    dispatch_lost()
    assert _queued(broker) == [("notifications.tasks.dispatch", [str(lost.id)])]


def test_a_dispatch_runs_once_however_often_it_is_sent(broker, webhook_channel, receiver):
    webhook_channel(receiver.url())
    notification = _recorded(5)
    dispatch(str(notification.id))
    dispatch(str(notification.id))
    notification.refresh_from_db()
    assert notification.dispatched_at is not None
    assert [task for task, _ in _queued(broker)] == ["notifications.tasks.deliver_to_channel"]
