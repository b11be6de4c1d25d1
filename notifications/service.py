"""Creating notifications. Every app calls this; it knows nothing about the callers."""

from __future__ import annotations

import uuid
from typing import Any

from notifications.models import EntityType, Notification, NotificationType, Severity


def notify(
    type: NotificationType,
    severity: Severity,
    title: str,
    message: str = "",
    *,
    entity_type: EntityType = EntityType.SYSTEM,
    entity_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
) -> Notification:
    """Record a notification. ``title`` is cut to the column's 255 characters."""
    return Notification.objects.create(
        type=type,
        severity=severity,
        title=title[:255],
        message=message,
        entity_type=entity_type,
        entity_id=entity_id,
        metadata=metadata or {},
    )
