"""Restoring over a target that holds data takes the target's name typed to confirm; until
then the wizard shows what it would overwrite, keeps every choice and creates nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def _restores():
    return BackupExecution.objects.filter(kind=BackupExecution.Kind.RESTORE)


def test_without_the_name_the_wizard_shows_the_target_and_restores_nothing(
    admin_client, completed_backup
):
    wizard = reverse("admin:executions_backupexecution_restore", args=[completed_backup.pk])
    response = admin_client.post(wizard, {"target_kind": "same", "tables": "public.orders"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="restore-confirmation"' in html
    assert "orders db" in html  # the target's name, to be typed
    assert "public.orders" in html  # the choice is kept
    assert not _restores().exists()


def test_a_wrong_name_is_refused(admin_client, completed_backup):
    wizard = reverse("admin:executions_backupexecution_restore", args=[completed_backup.pk])
    response = admin_client.post(wizard, {"target_kind": "same", "confirm_name": "orders"})
    assert response.status_code == 400
    assert "Type orders db exactly to confirm." in response.content.decode()
    assert not _restores().exists()


def test_the_right_name_queues_the_restore_with_its_options(admin_client, completed_backup):
    wizard = reverse("admin:executions_backupexecution_restore", args=[completed_backup.pk])
    response = admin_client.post(
        wizard,
        {
            "target_kind": "same",
            "tables": "public.orders\npublic.customers",
            "schemas": "public",
            "confirm_name": "orders db",
        },
    )
    restore = _restores().get()
    assert response.status_code == 302
    assert restore.datasource_id == completed_backup.datasource_id
    assert restore.metadata["restore_options"] == {
        "tables": ["public.orders", "public.customers"],
        "schemas": ["public"],
    }
