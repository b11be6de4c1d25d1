"""The job form edits the retention policy as four typed fields, never as JSON."""

from __future__ import annotations

from django.urls import reverse

from jobs.models import BackupJob
from tests import factories

ADD = reverse("admin:jobs_backupjob_add")


def test_the_add_page_has_the_four_retention_fields_and_no_json(admin_client, db):
    html = admin_client.get(ADD).content.decode()
    for name in ("keep_daily", "keep_weekly", "keep_monthly", "auto_delete"):
        assert f'name="retention_{name}"' in html
    assert 'name="retention_policy"' not in html
    assert 'name="backup_options"' not in html
    assert "Keep the newest backup of each of the last N days" in html


def test_the_four_fields_are_saved_as_the_policy(admin_client, backup_job):
    data = {
        "name": backup_job.name,
        "enabled": "on",
        "datasource": str(backup_job.datasource.pk),
        "storage_location": str(backup_job.storage_location.pk),
        "schedule_cron": "0 3 * * *",
        "schedule_timezone": "Europe/Berlin",
        "retention_keep_daily": "3",
        "retention_keep_weekly": "2",
        "retention_keep_monthly": "6",
        "retention_auto_delete": "on",
        "option_compression": "zstd",
    }
    url = reverse("admin:jobs_backupjob_change", args=[backup_job.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()
    backup_job.refresh_from_db()
    assert backup_job.retention_policy == {
        "keep_daily": 3,
        "keep_weekly": 2,
        "keep_monthly": 6,
        "auto_delete": True,
    }


def test_the_change_page_shows_the_stored_policy_in_the_fields(admin_client, db):
    job = factories.BackupJobFactory.create(
        retention_policy={
            "keep_daily": 9,
            "keep_weekly": 3,
            "keep_monthly": 1,
            "auto_delete": False,
        }
    )
    form = (
        admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk]))
        .context["adminform"]
        .form
    )
    assert form["retention_keep_daily"].value() == 9
    assert form["retention_keep_weekly"].value() == 3
    assert form["retention_keep_monthly"].value() == 1
    assert not form["retention_auto_delete"].value()
    assert BackupJob.objects.get(pk=job.pk).retention_policy["keep_daily"] == 9
