"""/api/notifications: filters and marking read."""

from __future__ import annotations

import pytest
from django.utils import timezone

from notifications.models import Notification

pytestmark = pytest.mark.django_db


def _notification(**fields):
    values = {
        "type": "backup_failed",
        "severity": "critical",
        "entity_type": "system",
        "title": "Backup failed",
        **fields,
    }
    return Notification.objects.create(**values)


def test_notifications_filter_by_unread_severity_and_type(api):
    _notification()
    _notification(severity="info", type="backup_success", read_at=timezone.now())
    assert api.get("/api/notifications?unread=true").data["count"] == 1
    assert api.get("/api/notifications?unread=false").data["count"] == 1
    assert api.get("/api/notifications?severity=info").data["count"] == 1
    assert api.get("/api/notifications?type=backup_failed").data["count"] == 1


def test_an_unknown_severity_is_a_400(api):
    response = api.get("/api/notifications?severity=apocalyptic")
    assert response.status_code == 400
    assert "severity" in response.data


def test_marking_one_read_sets_read_at(api):
    notification = _notification()
    response = api.post(f"/api/notifications/{notification.pk}/read")
    assert response.status_code == 200
    assert response.data["is_read"] is True
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_read_all_marks_every_unread_one(api):
    _notification()
    _notification()
    _notification(read_at=timezone.now())
    response = api.post("/api/notifications/read-all")
    assert response.data == {"marked": 2}
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_notifications_cannot_be_created_through_the_api(api):
    assert api.post("/api/notifications", {"title": "x"}, format="json").status_code == 405
