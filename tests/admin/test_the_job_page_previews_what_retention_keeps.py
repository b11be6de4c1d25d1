"""The job page previews which backups the retention policy keeps and why; the preview
endpoint answers for a policy being typed, without saving it."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from executions.models import BackupExecution
from jobs.models import BackupJob
from tests import factories


def backups(job: BackupJob, days_ago: list[int]) -> list[BackupExecution]:
    now = timezone.now()
    return [
        factories.BackupExecutionFactory.create(
            job=job,
            status=BackupExecution.Status.COMPLETED,
            started_at=now - timedelta(days=days, minutes=5),
            finished_at=now - timedelta(days=days),
            compressed_size_bytes=3 * 1024 * 1024,
        )
        for days in days_ago
    ]


def utc_job() -> BackupJob:
    return factories.BackupJobFactory.create(
        schedule_timezone="UTC",
        retention_policy={
            "keep_daily": 7,
            "keep_weekly": 0,
            "keep_monthly": 0,
            "auto_delete": False,
        },
    )


def test_the_change_page_says_why_each_backup_is_kept(admin_client, db):
    job = utc_job()
    backups(job, [0, 2, 30])
    html = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content.decode()
    assert 'id="retention-preview"' in html
    assert "2 of 3 completed backups kept; 1 " in html
    assert "kept because: newest (always kept), daily 1 of 7" in html
    assert "kept because: daily 3 of 7" in html
    assert "would be deleted (auto-delete is off)" in html
    assert "3.0 MiB" in html


def test_the_endpoint_previews_a_typed_policy_without_saving_it(admin_client, db):
    job = utc_job()
    backups(job, [0, 2, 30])
    url = reverse("admin:jobs_backupjob_retention_preview", args=[job.pk])
    data = admin_client.get(
        url, {"keep_daily": "1", "keep_weekly": "0", "keep_monthly": "2", "auto_delete": "1"}
    ).json()
    assert "kept because: newest (always kept), daily 1 of 1, monthly 1 of 2" in data["html"]
    assert "daily 3 of" not in data["html"]
    assert "deleted by the next cleanup" in data["html"]
    job.refresh_from_db()
    assert job.retention_policy["keep_daily"] == 7


def test_the_endpoint_is_for_staff_only(client, db):
    job = utc_job()
    response = client.get(reverse("admin:jobs_backupjob_retention_preview", args=[job.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
