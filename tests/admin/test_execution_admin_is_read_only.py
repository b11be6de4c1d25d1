"""Executions are an append-only record: the admin shows them and changes nothing."""

from __future__ import annotations

from django.urls import reverse

from executions.models import BackupChunk, BackupExecution


def test_the_execution_admin_refuses_to_add(admin_client, execution):
    assert admin_client.get(reverse("admin:executions_backupexecution_add")).status_code == 403
    response = admin_client.post(reverse("admin:executions_backupexecution_add"), {})
    assert response.status_code == 403


def test_the_execution_admin_refuses_to_change(admin_client, execution):
    url = reverse("admin:executions_backupexecution_change", args=[execution.pk])
    response = admin_client.post(url, {"status": "completed", "backup_path": "/tmp/evil"})
    assert response.status_code == 403
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.QUEUED


def test_the_execution_admin_refuses_to_delete(admin_client, execution):
    url = reverse("admin:executions_backupexecution_delete", args=[execution.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert BackupExecution.objects.filter(pk=execution.pk).exists()


def test_the_execution_page_shows_its_chunks(admin_client, execution):
    BackupChunk.objects.create(
        execution=execution,
        chunk_number=0,
        file_path="run/part-0000",
        size_bytes=2048,
        checksum="ab" * 32,
    )
    url = reverse("admin:executions_backupexecution_change", args=[execution.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "run/part-0000" in html
    assert 'name="status"' not in html
