"""Celery tasks of notifications, and the only module of the app that knows Celery.

A notification is fanned out once its transaction commits (``dispatch``), one
``deliver_to_channel`` task per channel whose rule accepts it, so one slow or broken channel
never holds up another, and a retry resends to that channel only. Messages carry ids only.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from core.queues import NOTIFICATIONS
from notifications.delivery import deliver
from notifications.models import Delivery, Notification, NotificationChannel
from notifications.rules import channels_for

logger = logging.getLogger(__name__)

# A notification not dispatched this long after it was recorded lost its message.
LOST_AFTER = timedelta(minutes=2)
# Older ones are history: a broker that was down for a day does not flood the operator.
GIVE_UP_AFTER = timedelta(days=1)


def retry_countdown(retries: int) -> float:
    """Seconds before attempt ``retries + 2``: the notifications queue's exponential backoff,
    from ``DATAGUARDIAN_NOTIFICATION_RETRY_DELAY`` (60 s by default)."""
    return float(settings.NOTIFICATION_RETRY_DELAY * 2**retries)


@shared_task(time_limit=120, soft_time_limit=110, **NOTIFICATIONS.task_options())
def dispatch(notification_id: str) -> None:
    """Send ``deliver_to_channel`` for every channel that takes this notification."""
    claimed = Notification.objects.filter(pk=notification_id, dispatched_at__isnull=True).update(
        dispatched_at=timezone.now()
    )
    if not claimed:
        return  # dispatched already (a re-sent message), or gone
    notification = Notification.objects.get(pk=notification_id)
    for channel in channels_for(notification):
        deliver_to_channel.apply_async(args=[notification_id, str(channel.id)])


@shared_task(bind=True, time_limit=120, soft_time_limit=110, **NOTIFICATIONS.task_options())
def deliver_to_channel(self: Any, notification_id: str, channel_id: str) -> None:
    """One attempt through one channel; a transient failure is retried with backoff."""
    notification = Notification.objects.filter(pk=notification_id).first()
    channel = NotificationChannel.objects.filter(pk=channel_id).first()
    if notification is None or channel is None:
        return
    retries = self.request.retries
    record = deliver(
        notification, channel, attempt=retries + 1, can_retry=retries < NOTIFICATIONS.max_retries
    )
    if record.status == Delivery.Status.RETRYING:
        raise self.retry(countdown=retry_countdown(retries), max_retries=NOTIFICATIONS.max_retries)


@shared_task(time_limit=55, soft_time_limit=50, **NOTIFICATIONS.task_options())
def dispatch_lost() -> None:
    """Dispatch notifications whose message was lost (every minute, from beat): the database,
    not the broker, holds what is still to be sent."""
    now = timezone.now()
    lost = Notification.objects.filter(
        dispatched_at__isnull=True,
        created_at__lt=now - LOST_AFTER,
        created_at__gte=now - GIVE_UP_AFTER,
    ).values_list("id", flat=True)
    for notification_id in lost[:500]:
        dispatch.apply_async(args=[str(notification_id)])


def _send_dispatch(notification_id: str) -> None:
    try:
        dispatch.apply_async(args=[notification_id])
    except Exception:  # the periodic sweep sends it later; the caller's work must go on
        logger.exception("Could not queue notification %s; it is sent again later", notification_id)


def _on_notification_saved(sender: Any, instance: Notification, created: bool, **kw: Any) -> None:
    if created and instance.dispatched_at is None:
        notification_id = str(instance.id)
        transaction.on_commit(lambda: _send_dispatch(notification_id))


post_save.connect(
    _on_notification_saved, sender=Notification, dispatch_uid="notifications.dispatch"
)
