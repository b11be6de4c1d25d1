"""The job's page edits the RPO/RTO targets and the restore-test window and shows the job's
recoverability as of now, in human units."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.models import BackupJob
from tests.factories import BackupJobFactory
from tests.observability._history import completed, verified

pytestmark = pytest.mark.django_db


def test_the_page_shows_rpo_rto_and_the_targets(admin_client):
    job = BackupJobFactory.create(rpo_target_minutes=60, rto_target_minutes=1)
    backup = completed(job, size=1024)
    verified(backup, restore_seconds=125.0)
    text = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content.decode()
    assert "Recoverability" in text
    assert "RPO verified" in text
    assert "2 min 5 s for 3.0 KiB" in text
    assert "1 h 0 min: met" in text
    assert "1 min 0 s: missed" in text
    assert "every 7 days" in text


def test_a_job_that_never_ran_says_so(admin_client):
    job = BackupJobFactory.create()
    text = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content.decode()
    assert "no backup has completed" in text
    assert "no restore measured yet" in text


def test_the_targets_are_saved_from_the_form(admin_client):
    job = BackupJobFactory.create()
    url = reverse("admin:jobs_backupjob_change", args=[job.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None and key != "id"}
    data = {k: (v.pk if hasattr(v, "pk") else v) for k, v in data.items()}
    data.update(rpo_target_minutes="90", rto_target_minutes="", restore_test_every_days="0")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = BackupJob.objects.get(pk=job.pk)
    assert (job.rpo_target_minutes, job.rto_target_minutes, job.restore_test_every_days) == (
        90,
        None,
        0,
    )
