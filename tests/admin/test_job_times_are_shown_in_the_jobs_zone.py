"""Next and last execution are shown in the job's time zone, labelled, with UTC on hover."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse

from jobs.models import BackupJob
from tests import factories

NEXT = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)  # 03:00 in Berlin (CET, winter)


def berlin_job() -> BackupJob:
    job = factories.BackupJobFactory.create(
        schedule_cron="0 3 * * *", schedule_timezone="Europe/Berlin"
    )
    BackupJob.objects.filter(pk=job.pk).update(next_execution_at=NEXT, last_execution_at=None)
    return job


def test_the_job_list_shows_the_next_execution_in_the_jobs_zone(admin_client, db):
    berlin_job()
    html = admin_client.get(reverse("admin:jobs_backupjob_changelist")).content.decode()
    assert "Next execution at" in html
    assert '<time datetime="2027-01-15T02:00:00+00:00" title="2027-01-15 02:00:00 UTC">' in html
    assert "2027-01-15 03:00 CET</time>" in html


def test_the_job_page_shows_the_next_execution_in_the_jobs_zone(admin_client, db):
    job = berlin_job()
    html = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content.decode()
    assert "Next execution at" in html
    assert "2027-01-15 03:00 CET</time>" in html
    assert 'title="2027-01-15 02:00:00 UTC"' in html
