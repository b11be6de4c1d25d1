"""The unread count shown in the admin's header."""

from __future__ import annotations

from django.http import HttpRequest

from notifications.models import Notification

# Counted up to here; the header shows "99+" beyond it, and the query stays bounded.
CAP = 100


def unread_notifications(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {}
    if not request.path.startswith("/admin/"):
        return {}
    count = Notification.objects.filter(read_at__isnull=True)[:CAP].count()
    if not count:
        return {}
    shown = f"{CAP - 1}+" if count >= CAP else str(count)
    return {"unread_notifications": f"{shown} unread notification{'' if count == 1 else 's'}"}
