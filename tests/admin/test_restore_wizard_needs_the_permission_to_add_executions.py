"""Restoring creates an execution: staff without that permission are refused the wizard."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def test_staff_who_may_only_view_executions_cannot_restore(client, completed_backup):
    user = get_user_model().objects.create_user(
        "viewer", password="pw-for-tests-only", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_backupexecution"))
    client.force_login(user)
    page = reverse("admin:executions_backupexecution_change", args=[completed_backup.pk])
    html = client.get(page).content.decode()
    assert 'id="action-restore"' not in html
    wizard = reverse("admin:executions_backupexecution_restore", args=[completed_backup.pk])
    response = client.post(wizard, {"target_kind": "same", "confirm_name": "orders db"})
    assert response.status_code == 403
    assert not BackupExecution.objects.filter(kind="restore").exists()
