"""Deleting a backup from the admin deletes its stored files, then its record."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupChunk, BackupExecution
from tests.support.jobs import artifact_dir, run_backup

pytestmark = pytest.mark.django_db


def test_an_older_backup_is_deleted_with_its_files(admin_client, files_backup):
    newer = run_backup(files_backup.job)  # so the one deleted is not the newest
    stored = artifact_dir(files_backup)
    assert any(stored.iterdir())
    url = reverse("admin:executions_backupexecution_delete", args=[files_backup.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not stored.exists()
    assert not BackupExecution.objects.filter(pk=files_backup.pk).exists()
    assert not BackupChunk.objects.filter(execution_id=files_backup.pk).exists()
    assert artifact_dir(newer).exists()  # the other backup's files are untouched


def test_a_running_execution_cannot_be_deleted(admin_client, completed_backup):
    BackupExecution.objects.filter(pk=completed_backup.pk).update(status="running")
    url = reverse("admin:executions_backupexecution_delete", args=[completed_backup.pk])
    assert admin_client.post(url, {"post": "yes", "force": "1"}).status_code == 403
    assert BackupExecution.objects.filter(pk=completed_backup.pk).exists()
