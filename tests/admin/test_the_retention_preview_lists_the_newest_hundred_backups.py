"""A job with more than a hundred backups lists the newest hundred and counts the rest."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from executions.models import BackupExecution
from tests import factories


def test_older_backups_past_the_hundredth_are_counted_not_listed(admin_client, db):
    job = factories.BackupJobFactory.create(
        schedule_timezone="UTC",
        retention_policy={
            "keep_daily": 0,
            "keep_weekly": 0,
            "keep_monthly": 0,
            "auto_delete": False,
        },
    )
    now = timezone.now()
    BackupExecution.objects.bulk_create(
        [
            BackupExecution(
                job=job,
                datasource=job.datasource,
                storage_location=job.storage_location,
                status=BackupExecution.Status.COMPLETED,
                started_at=now - timedelta(hours=hours, minutes=5),
                finished_at=now - timedelta(hours=hours),
            )
            for hours in range(105)
        ]
    )
    html = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content.decode()
    assert "1 of 105 completed backups kept; 104 " in html
    assert html.count('class="dg-deleted"') == 99
    assert html.count('class="dg-kept"') == 1
    assert "… and 5 older backups not listed (0 of them kept)." in html
