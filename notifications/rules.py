"""Which channels a notification goes to: each channel's rule (severity, types, scope)."""

from __future__ import annotations

from typing import Any

from notifications.models import (
    DEFAULT_EVENT_TYPES,
    SEVERITY_RANK,
    EntityType,
    Notification,
    NotificationChannel,
    NotificationType,
)


def _section(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def _about(notification: Notification) -> tuple[str | None, str | None, set[str]]:
    """The job, datasource and datasource tags a notification is about (from its metadata,
    which ``notify`` callers fill; see executions.events and datasources.health)."""
    meta: dict[str, Any] = notification.metadata or {}
    job = _section(meta, "job")
    datasource = _section(meta, "datasource")
    job_id = str(job.get("id") or meta.get("job_id") or "") or None
    datasource_id = str(datasource.get("id") or "") or None
    if datasource_id is None and notification.entity_type == EntityType.DATASOURCE:
        datasource_id = str(notification.entity_id) if notification.entity_id else None
    tags = {str(tag) for tag in datasource.get("tags") or []}
    return job_id, datasource_id, tags


def in_scope(channel: NotificationChannel, notification: Notification) -> bool:
    """An unscoped channel takes everything; a scoped one only what is about its jobs, its
    datasources, or datasources carrying one of its tags."""
    if not (channel.job_ids or channel.datasource_ids or channel.tags):
        return True
    job_id, datasource_id, tags = _about(notification)
    return (
        (job_id is not None and job_id in {str(i) for i in channel.job_ids})
        or (datasource_id is not None and datasource_id in {str(i) for i in channel.datasource_ids})
        or bool(tags & set(channel.tags))
    )


def accepts(channel: NotificationChannel, notification: Notification) -> bool:
    """Whether ``notification`` goes out through ``channel``."""
    if not channel.enabled:
        return False
    if SEVERITY_RANK[notification.severity] < SEVERITY_RANK[channel.min_severity]:
        return False
    if notification.type not in (channel.event_types or DEFAULT_EVENT_TYPES):
        return False
    meta = notification.metadata or {}
    about_channel = _section(meta, "channel").get("id")
    if notification.type == NotificationType.CHANNEL_FAILING and about_channel == str(channel.id):
        return False  # a failing channel is not told about itself
    if (
        notification.type == NotificationType.BACKUP_FAILED
        and not channel.every_failure
        and int(meta.get("failure_streak") or 1) > 1
    ):
        return False  # once per failure streak
    return in_scope(channel, notification)


def channels_for(notification: Notification) -> list[NotificationChannel]:
    return [c for c in NotificationChannel.objects.filter(enabled=True) if accepts(c, notification)]
