"""Verify now queues a verification of a completed backup and marks it queued."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_completed_backup_is_queued_for_verification(
    admin_client, completed_backup, django_capture_on_commit_callbacks
):
    url = reverse("admin:executions_backupexecution_verify", args=[completed_backup.pk])
    with django_capture_on_commit_callbacks() as sent:
        response = admin_client.post(url, follow=True)
    completed_backup.refresh_from_db()
    assert completed_backup.metadata["verification"]["status"] == "queued"
    assert len(sent) == 1
    assert "Verification queued" in response.content.decode()


def test_a_queued_backup_is_not_verified(
    admin_client, execution, django_capture_on_commit_callbacks
):
    url = reverse("admin:executions_backupexecution_verify", args=[execution.pk])
    with django_capture_on_commit_callbacks() as sent:
        response = admin_client.post(url, follow=True)
    execution.refresh_from_db()
    assert "verification" not in execution.metadata
    assert sent == []
    assert "Only completed backups can be verified." in response.content.decode()
