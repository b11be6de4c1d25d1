"""A files backup restores into a directory: an empty one needs no confirmation, one that
holds files needs its path typed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def test_an_empty_directory_is_restored_into_without_confirmation(
    admin_client, files_backup, tmp_path
):
    target = tmp_path / "empty"
    target.mkdir()
    wizard = reverse("admin:executions_backupexecution_restore", args=[files_backup.pk])
    response = admin_client.post(wizard, {"target_kind": "path", "target_path": str(target)})
    restore = BackupExecution.objects.get(kind="restore")
    assert response.status_code == 302
    assert restore.metadata["target_path"] == str(target)


def test_a_directory_holding_files_needs_its_path_typed(admin_client, files_backup, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    wizard = reverse("admin:executions_backupexecution_restore", args=[files_backup.pk])
    response = admin_client.post(wizard, {"target_kind": "path", "target_path": str(target)})
    assert response.status_code == 400
    assert "The path is not empty" in response.content.decode()
    assert not BackupExecution.objects.filter(kind="restore").exists()
    response = admin_client.post(
        wizard,
        {
            "target_kind": "path",
            "target_path": str(target),
            "overwrite": "on",
            "confirm_name": str(target),
        },
    )
    assert response.status_code == 302
    restore = BackupExecution.objects.get(kind="restore")
    assert restore.metadata["restore_options"] == {"overwrite": True}
