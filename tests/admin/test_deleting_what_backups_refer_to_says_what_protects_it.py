"""Deleting a job, datasource or storage location that backups refer to says what protects
it and what to do instead, never that a permission is missing; nothing is deleted."""

from __future__ import annotations

from django.urls import reverse

from datasources.models import Datasource
from jobs.models import BackupJob
from storage.models import StorageLocation

NO_PERMISSION = "doesn&#x27;t have permission"


def test_the_job_delete_page_explains_the_protection_and_the_way_out(admin_client, execution):
    job = execution.job
    response = admin_client.get(reverse("admin:jobs_backupjob_delete", args=[job.pk]))
    html = response.content.decode()
    assert NO_PERMISSION not in html
    assert "permission to delete" not in html
    assert "1 backup execution refers to it" in html
    assert "disable it instead" in html
    link = reverse("admin:executions_backupexecution_changelist") + f"?job__id__exact={job.pk}"
    assert link in html
    # The link leads to the job's backups, not to the changelist's "invalid filter" redirect.
    listed = admin_client.get(link)
    assert listed.status_code == 200
    assert list(listed.context["cl"].queryset) == [execution]
    admin_client.post(reverse("admin:jobs_backupjob_delete", args=[job.pk]), {"post": "yes"})
    assert BackupJob.objects.filter(pk=job.pk).exists()


def test_delete_selected_of_jobs_explains_the_protection(admin_client, execution):
    response = admin_client.post(
        reverse("admin:jobs_backupjob_changelist"),
        {"action": "delete_selected", "_selected_action": [str(execution.job.pk)]},
    )
    html = response.content.decode()
    assert "permission to delete" not in html
    assert "backup execution refers to" in html
    assert "disable it instead" in html


def test_the_datasource_delete_page_explains_the_protection(admin_client, execution):
    datasource = execution.datasource
    url = reverse("admin:datasources_datasource_delete", args=[datasource.pk])
    html = admin_client.get(url).content.decode()
    assert "permission to delete" not in html
    assert "1 backup job refers to it" in html
    assert "1 backup execution refers to it" in html
    assert "disable it" in html
    jobs = reverse("admin:jobs_backupjob_changelist") + f"?datasource__id__exact={datasource.pk}"
    assert jobs in html
    assert list(admin_client.get(jobs).context["cl"].queryset) == [execution.job]
    admin_client.post(url, {"post": "yes"})
    assert Datasource.objects.filter(pk=datasource.pk).exists()


def test_the_storage_location_delete_page_explains_the_protection(admin_client, execution):
    location = execution.storage_location
    url = reverse("admin:storage_storagelocation_delete", args=[location.pk])
    html = admin_client.get(url).content.decode()
    assert "permission to delete" not in html
    assert "1 backup execution refers to it" in html
    assert "Point its" in html
    admin_client.post(url, {"post": "yes"})
    assert StorageLocation.objects.filter(pk=location.pk).exists()


def test_a_job_without_backups_is_deleted_as_usual(admin_client, backup_job):
    url = reverse("admin:jobs_backupjob_delete", args=[backup_job.pk])
    assert "Are you sure" in admin_client.get(url).content.decode()
    admin_client.post(url, {"post": "yes"})
    assert not BackupJob.objects.filter(pk=backup_job.pk).exists()
