"""The newest completed backup of a job is the one a restore needs first: the delete page
names it and deletes it only with "Delete it anyway" ticked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def test_the_page_names_what_is_deleted(admin_client, completed_backup):
    url = reverse("admin:executions_backupexecution_delete", args=[completed_backup.pk])
    html = admin_client.get(url).content.decode()
    assert completed_backup.job.name in html
    assert "job/run" in html  # the stored path
    assert "1.0 KiB" in html  # the stored size
    assert 'id="delete-newest-warning"' in html


def test_the_newest_backup_is_kept_without_force(admin_client, completed_backup):
    url = reverse("admin:executions_backupexecution_delete", args=[completed_backup.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 400
    assert 'id="delete-error"' in response.content.decode()
    assert BackupExecution.objects.filter(pk=completed_backup.pk).exists()


def test_the_newest_backup_is_deleted_with_force(admin_client, completed_backup):
    url = reverse("admin:executions_backupexecution_delete", args=[completed_backup.pk])
    response = admin_client.post(url, {"post": "yes", "force": "1"}, follow=True)
    assert not BackupExecution.objects.filter(pk=completed_backup.pk).exists()
    assert "Deleted the backup of" in response.content.decode()
