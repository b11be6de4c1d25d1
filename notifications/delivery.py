"""Sending one notification through one channel, recording the attempt, and keeping count of
channels that keep failing. Plain code: ``notifications.tasks`` runs it on the
notifications queue and retries what is worth retrying."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from core import system_settings
from core.logging import redact
from notifications.channels.base import DeliveryError, Message
from notifications.models import (
    Delivery,
    EntityType,
    Notification,
    NotificationChannel,
    NotificationType,
    Severity,
)
from notifications.service import notify

logger = logging.getLogger(__name__)

MASK = "********"
EXCERPT = 500

# Shown in a message's text, in this order, when the notification's metadata has them.
_DETAILS = [
    ("Job", ("job", "name")),
    ("Datasource", ("datasource", "name")),
    ("Storage", ("storage_location", "name")),
    ("Started", ("execution", "started_at")),
    ("Finished", ("execution", "finished_at")),
    ("Duration", ("execution", "duration")),
    ("Size", ("execution", "size")),
    ("Stored", ("execution", "stored")),
    ("Error", ("execution", "error")),
    ("Link", ("execution", "url")),
]


def _lookup(metadata: dict[str, Any], path: tuple[str, str]) -> Any:
    section = metadata.get(path[0])
    return section.get(path[1]) if isinstance(section, dict) else None


def build_message(notification: Notification) -> Message:
    """The message every channel sends: a text for people and a JSON event for machines."""
    metadata = dict(notification.metadata or {})
    lines = [notification.title]
    if notification.message:
        lines += ["", notification.message]
    details = [
        f"{label}: {value}"
        for label, path in _DETAILS
        if (value := _lookup(metadata, path)) not in (None, "")
    ]
    if details:
        lines += ["", *details]
    created = notification.created_at.isoformat()
    payload = {
        "id": str(notification.id),
        "type": notification.type,
        "severity": notification.severity,
        "title": notification.title,
        "message": notification.message,
        "created_at": created,
        "entity_type": notification.entity_type,
        "entity_id": str(notification.entity_id) if notification.entity_id else None,
        "details": metadata,
    }
    return Message(
        id=str(notification.id),
        type=notification.type,
        severity=notification.severity,
        title=notification.title,
        text="\n".join(lines) + "\n",
        payload=payload,
        created_at=created,
    )


def _secret_values(channel: NotificationChannel) -> list[str]:
    """Every secret of the channel's config, whole and line by line (URLs, headers), so
    that none of them can reach the delivery log."""
    values: list[str] = []
    for name in channel.channel.secret_fields:
        value = str(channel.config.get(name) or "")
        values += [value, *value.split()]
        values += [line.split(":", 1)[-1].strip() for line in value.splitlines()]
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return redact(text)


def deliver(
    notification: Notification,
    channel: NotificationChannel,
    *,
    attempt: int,
    can_retry: bool,
    counts: bool = True,
) -> Delivery:
    """Send ``notification`` through ``channel`` once and record the attempt.

    A transient failure with ``can_retry`` is recorded as ``retrying`` (the caller schedules
    the next attempt); any other failure is ``failed`` and counts toward the channel failing.
    Never raises for a failed delivery: the failure is the result it records. A delivery
    that does not ``count`` (a test) leaves the channel's failure count alone.
    """
    secrets = _secret_values(channel)
    target, code, response, error = "", None, "", ""
    started = time.monotonic()
    try:
        sender = channel.channel(channel.config, timeout=settings.NOTIFICATION_TIMEOUT)
        target = sender.target()
        result = sender.send(build_message(notification))
    except DeliveryError as exc:
        retry = exc.transient and can_retry
        status = Delivery.Status.RETRYING if retry else Delivery.Status.FAILED
        code, response, error = exc.code, exc.response, str(exc)
    except Exception as exc:  # a channel's own defect: recorded, never retried
        logger.exception("Channel %s raised while sending", channel.name)
        status, error = Delivery.Status.FAILED, f"{type(exc).__name__}: {exc}"
    else:
        status, code, response = Delivery.Status.SENT, result.code, result.response
    record = Delivery.objects.create(
        notification=notification,
        channel=channel,
        attempt=attempt,
        status=status,
        code=code,
        response=scrub(response[:EXCERPT], secrets),
        error=scrub(error[: EXCERPT * 2], secrets),
        latency_ms=int((time.monotonic() - started) * 1000),
        target=scrub(target, secrets)[:1024],
    )
    if counts and record.status == Delivery.Status.SENT:
        _succeeded(channel)
    elif counts and record.status == Delivery.Status.FAILED:
        _failed(channel, record)
    return record


def _succeeded(channel: NotificationChannel) -> None:
    NotificationChannel.objects.filter(pk=channel.pk).update(
        consecutive_failures=0, failing_since=None, last_success_at=timezone.now()
    )


def _failed(channel: NotificationChannel, record: Delivery) -> None:
    """Count a delivery that failed for good; the one that reaches the threshold marks the
    channel failing and tells the other channels."""
    now = timezone.now()
    NotificationChannel.objects.filter(pk=channel.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now
    )
    threshold = int(system_settings.get("notifications.failing_after"))
    marked = NotificationChannel.objects.filter(
        pk=channel.pk, failing_since__isnull=True, consecutive_failures__gte=threshold
    ).update(failing_since=now)
    if not marked:
        return
    logger.warning("Notification channel %s is failing", channel.name)
    notify(
        NotificationType.CHANNEL_FAILING,
        Severity.WARNING,
        f"Notification channel {channel.name} is failing",
        f"The last {threshold} deliveries through {channel.name} ({channel.type}) failed. "
        f"Last error: {record.error or record.response or 'none given'}",
        entity_type=EntityType.SYSTEM,
        metadata={"channel": {"id": str(channel.id), "name": channel.name, "type": channel.type}},
    )


def send_test(channel: NotificationChannel) -> Delivery:
    """Send a test notification through ``channel`` now, through the same path as real ones
    (one attempt, no retry), and return the recorded attempt."""
    notification = Notification(
        type=NotificationType.TEST,
        severity=Severity.INFO,
        entity_type=EntityType.SYSTEM,
        title=f"DataGuardian test notification for {channel.name}",
        message="If you can read this, the channel works.",
        metadata={"test": True},
        dispatched_at=timezone.now(),  # delivered here, never by the dispatcher
    )
    notification.save()
    return deliver(notification, channel, attempt=1, can_retry=False, counts=False)
