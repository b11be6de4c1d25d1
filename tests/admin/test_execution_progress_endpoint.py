"""The JSON the execution page polls for its live status and progress, for staff only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from executions.models import BackupExecution
from tests.factories import BackupExecutionFactory

pytestmark = pytest.mark.django_db


def test_a_running_backup_reports_bytes_rate_and_an_estimate(admin_client, completed_backup):
    running = BackupExecutionFactory.create(
        job=completed_backup.job,
        status=BackupExecution.Status.RUNNING,
        started_at=timezone.now() - timedelta(seconds=10),
        progress={
            "phase": "running",
            "bytes_in": 1024,
            "bytes_out": 512,
            "rate_bytes_per_second": 100,
            "chunk": 1,
        },
    )
    url = reverse("admin:executions_backupexecution_progress", args=[running.pk])
    data = admin_client.get(url).json()
    assert data["status"] == "running"
    assert data["is_final"] is False
    assert data["bytes_in"] == 1024
    assert data["bytes_out"] == 512
    assert data["rate_bytes_per_second"] == 100
    # The job's last completed backup read 4096 bytes: a quarter done, about 30 s left.
    assert data["estimated"] is True
    assert data["percent"] == 25.0
    assert 29 <= data["eta_seconds"] <= 32
    assert "Running" in data["status_html"]


def test_a_restore_reports_both_passes(admin_client, completed_backup):
    restore = BackupExecutionFactory.create(
        job=completed_backup.job,
        kind=BackupExecution.Kind.RESTORE,
        source_execution=completed_backup,
        status=BackupExecution.Status.RUNNING,
        started_at=timezone.now() - timedelta(seconds=4),
        progress={"phase": "restore", "bytes_total": 1000, "bytes_done": 500},
    )
    url = reverse("admin:executions_backupexecution_progress", args=[restore.pk])
    data = admin_client.get(url).json()
    assert data["phase"] == "restore"
    assert data["percent"] == 75.0  # the check read all 1000 bytes, the restore half of them


def test_a_final_execution_says_so(admin_client, completed_backup):
    url = reverse("admin:executions_backupexecution_progress", args=[completed_backup.pk])
    data = admin_client.get(url).json()
    assert data["is_final"] is True
    assert data["percent"] == 100.0


def test_someone_who_is_not_staff_gets_no_progress(client, completed_backup):
    user = get_user_model().objects.create_user("viewer", password="pw-for-tests-only")
    client.force_login(user)
    url = reverse("admin:executions_backupexecution_progress", args=[completed_backup.pk])
    response = client.get(url)
    assert response.status_code == 302  # to the admin's login
    assert response["Content-Type"].startswith("text/html")
