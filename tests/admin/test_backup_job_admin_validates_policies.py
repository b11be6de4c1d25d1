"""Backup jobs are created in the admin with validated schedules and policies."""

from __future__ import annotations

from django.urls import reverse

from jobs.models import BackupJob

ADD = reverse("admin:jobs_backupjob_add")


def job_data(postgres_datasource, s3_location, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "nightly",
        "enabled": "on",
        "datasource": str(postgres_datasource.pk),
        "storage_location": str(s3_location.pk),
        "schedule_cron": "0 3 * * *",
        "schedule_timezone": "Europe/Berlin",
        "retention_keep_daily": "14",
        "retention_keep_weekly": "4",
        "retention_keep_monthly": "12",
        "option_compression": "gzip",
        "option_compression_level": "6",
        "option_compression_threads": "1",
    }
    data.update(overrides)
    return data


def test_a_job_is_created_with_defaults_filled_in(admin_client, postgres_datasource, s3_location):
    response = admin_client.post(ADD, job_data(postgres_datasource, s3_location))
    assert response.status_code == 302, response.content.decode()
    job = BackupJob.objects.get(name="nightly")
    assert job.retention_policy["keep_daily"] == 14
    assert job.retention_policy["keep_weekly"] == 4
    assert job.backup_options["compression"] == "gzip"


def test_a_bad_policy_or_schedule_is_a_form_error(admin_client, postgres_datasource, s3_location):
    response = admin_client.post(
        ADD,
        job_data(
            postgres_datasource,
            s3_location,
            schedule_cron="every night",
            retention_keep_daily="-1",
            option_compression_level="12",
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a cron expression" in html
    form = response.context["adminform"].form
    assert "greater than or equal to 0" in str(form.errors["retention_keep_daily"])
    assert "gzip takes a level from 1 to 9" in str(form.errors["option_compression_level"])
    assert not BackupJob.objects.exists()


def test_a_job_s_stale_threshold_is_set_in_the_admin(
    admin_client, postgres_datasource, s3_location
):
    data = job_data(postgres_datasource, s3_location, stale_after_minutes="90")
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, response.content.decode()
    assert BackupJob.objects.get(name="nightly").stale_after_minutes == 90


def test_the_admin_shows_a_job_s_failure_streak_and_stale_since_read_only(
    admin_client, postgres_datasource, s3_location
):
    admin_client.post(ADD, job_data(postgres_datasource, s3_location))
    job = BackupJob.objects.get(name="nightly")
    response = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk]))
    html = response.content.decode()
    assert 'name="stale_after_minutes"' in html
    assert "Failure streak" in html
    assert 'name="failure_streak"' not in html
    assert 'name="stale_since"' not in html
