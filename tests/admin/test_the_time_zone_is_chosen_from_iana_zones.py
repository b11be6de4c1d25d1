"""The job's time zone is a select of the IANA zones."""

from __future__ import annotations

import zoneinfo

from django.urls import reverse


def test_the_time_zone_field_offers_every_iana_zone(admin_client, db):
    form = admin_client.get(reverse("admin:jobs_backupjob_add")).context["adminform"].form
    choices = [value for value, _ in form.fields["schedule_timezone"].choices]
    assert set(choices) == zoneinfo.available_timezones()
    assert choices[0] == "UTC"
    assert '<option value="Europe/Berlin">' in str(form["schedule_timezone"])


def test_a_zone_that_is_not_iana_is_refused(admin_client, backup_job):
    url = reverse("admin:jobs_backupjob_change", args=[backup_job.pk])
    response = admin_client.post(
        url,
        {
            "name": backup_job.name,
            "datasource": str(backup_job.datasource.pk),
            "storage_location": str(backup_job.storage_location.pk),
            "schedule_cron": "0 3 * * *",
            "schedule_timezone": "Mars/Olympus",
            "option_compression": "zstd",
        },
    )
    assert response.status_code == 200
    assert "schedule_timezone" in response.context["adminform"].form.errors
    backup_job.refresh_from_db()
    assert backup_job.schedule_timezone == "America/Sao_Paulo"
