"""The job's page shows what its retention policy keeps, why, and what it would delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from executions.models import BackupExecution
from tests.factories import BackupExecutionFactory, BackupJobFactory

pytestmark = pytest.mark.django_db


def test_the_preview_names_the_reasons_and_the_bytes_to_free(admin_client):
    job = BackupJobFactory.create(
        schedule_timezone="UTC",
        retention_policy={"keep_daily": 2, "keep_weekly": 0, "keep_monthly": 0},
    )
    now = timezone.now()
    for days, size in [(0, 100), (1, 200), (5, 3 * 1024 * 1024)]:
        BackupExecutionFactory.create(
            job=job,
            status=BackupExecution.Status.COMPLETED,
            started_at=now - timedelta(days=days, minutes=1),
            finished_at=now - timedelta(days=days),
            compressed_size_bytes=size,
        )
    html = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content
    text = html.decode()
    assert 'id="retention-preview"' in text
    assert "2 of 3 completed backups kept; 1 would be deleted, 3.0 MiB freed." in text
    assert "kept because: newest (always kept), daily 1 of 2" in text
    assert "kept because: daily 2 of 2" in text
