"""Moving a job to a datasource of another type saves only the options of the new type: a
value posted for an option that no longer applies is neither an error nor stored."""

from __future__ import annotations

from django.urls import reverse

from tests import factories


def test_a_bad_parallel_jobs_is_ignored_once_the_job_is_for_files(admin_client, db):
    job = factories.BackupJobFactory.create(
        datasource=factories.DatasourceFactory.create(type="postgres")
    )
    before = job.backup_options.get("parallel_jobs")
    files = factories.DatasourceFactory.create(
        type="files", connection_config={"source_path": "/srv"}
    )
    response = admin_client.post(
        reverse("admin:jobs_backupjob_change", args=[job.pk]),
        {
            "name": job.name,
            "enabled": "on",
            "datasource": str(files.pk),
            "storage_location": str(job.storage_location.pk),
            "schedule_cron": job.schedule_cron,
            "schedule_timezone": job.schedule_timezone,
            "retention_keep_daily": "7",
            "retention_keep_weekly": "4",
            "retention_keep_monthly": "12",
            "option_compression": "gzip",
            "option_parallel_jobs": "-5",
            "option_include_tables": "public.orders",
        },
    )
    assert response.status_code == 302, response.content.decode()
    job.refresh_from_db()
    assert job.datasource == files
    assert job.backup_options["compression"] == "gzip"
    assert job.backup_options.get("parallel_jobs") == before
    assert job.backup_options.get("include_tables", []) == []
