"""The executions, chunks, notifications and deliveries lists show each time labelled with its
zone, the UTC instant on hover: an execution's in its job's zone, the rest in the server's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from executions.models import BackupExecution
from notifications.models import Notification, NotificationType, Severity
from notifications.service import notify
from tests.factories import BackupExecutionFactory, BackupJobFactory

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)


def test_an_execution_is_listed_in_its_jobs_zone(admin_client):
    job = BackupJobFactory.create(schedule_timezone="Europe/Berlin")
    execution = BackupExecutionFactory.create(job=job)
    BackupExecution.objects.filter(pk=execution.pk).update(created_at=MOMENT)
    page = admin_client.get(reverse("admin:executions_backupexecution_changelist")).content
    assert b">2026-01-15 03:00 CET</time>" in page
    assert b'title="2026-01-15 02:00:00 UTC"' in page


def test_a_notification_is_listed_in_the_servers_zone_labelled(admin_client, settings):
    settings.TIME_ZONE = "UTC"
    notification = notify(NotificationType.BACKUP_FAILED, Severity.CRITICAL, "One")
    Notification.objects.filter(pk=notification.pk).update(created_at=MOMENT)
    page = admin_client.get(reverse("admin:notifications_notification_changelist")).content
    assert b">2026-01-15 02:00 UTC</time>" in page
