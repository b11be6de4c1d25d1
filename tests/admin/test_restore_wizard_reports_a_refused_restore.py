"""A restore the service refuses comes back as a message on the wizard, nothing created."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def test_a_refused_restore_stays_on_the_form_with_the_reason(admin_client, completed_backup):
    # A backup that failed after the page was opened: the service refuses it.
    BackupExecution.objects.filter(pk=completed_backup.pk).update(status="failed")
    wizard = reverse("admin:executions_backupexecution_restore", args=[completed_backup.pk])
    response = admin_client.post(
        wizard, {"target_kind": "same", "tables": "public.orders", "confirm_name": "orders db"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Only completed backups can be restored" in html
    assert "public.orders" in html
    assert not BackupExecution.objects.filter(kind="restore").exists()
