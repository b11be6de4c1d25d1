"""The unread count shown on the sidebar's Notifications entry."""

from __future__ import annotations

from notifications.models import Notification

# Counted up to here; the badge shows "99+" at it, and the query stays bounded.
CAP = 100


def unread_count() -> int:
    return Notification.objects.filter(read_at__isnull=True)[:CAP].count()
