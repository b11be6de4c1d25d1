"""A queued or running execution is cancelled from its page; a final one is refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def test_a_queued_execution_is_cancelled(admin_client, execution):
    page = reverse("admin:executions_backupexecution_change", args=[execution.pk])
    assert 'id="action-cancel"' in admin_client.get(page).content.decode()
    url = reverse("admin:executions_backupexecution_cancel", args=[execution.pk])
    response = admin_client.post(url, follow=True)
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.CANCELLED
    assert "Cancelled the backup" in response.content.decode()


def test_a_completed_execution_is_not_cancelled(admin_client, completed_backup):
    page = reverse("admin:executions_backupexecution_change", args=[completed_backup.pk])
    assert 'id="action-cancel"' not in admin_client.get(page).content.decode()
    url = reverse("admin:executions_backupexecution_cancel", args=[completed_backup.pk])
    response = admin_client.post(url, follow=True)
    completed_backup.refresh_from_db()
    assert completed_backup.status == BackupExecution.Status.COMPLETED
    assert "only a queued or running execution can be cancelled" in response.content.decode()


def test_cancelling_takes_a_post(admin_client, execution):
    url = reverse("admin:executions_backupexecution_cancel", args=[execution.pk])
    assert admin_client.get(url).status_code == 405
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.QUEUED
