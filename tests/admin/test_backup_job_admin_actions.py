"""The job changelist's actions: back up now, enable, disable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution
from jobs.models import BackupJob
from tests.factories import BackupJobFactory

CHANGELIST = reverse("admin:jobs_backupjob_changelist")
pytestmark = pytest.mark.django_db


def test_back_up_now_queues_one_manual_run_per_selected_job(
    admin_client, django_capture_on_commit_callbacks
):
    jobs = [BackupJobFactory.create() for _ in range(3)]
    selected = [str(job.pk) for job in jobs[:2]]
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            CHANGELIST, {"action": "run_now", "_selected_action": selected}, follow=True
        )
    html = response.content.decode()
    assert "Queued 2 backup(s):" in html
    queued = BackupExecution.objects.filter(status="queued", trigger="manual")
    assert sorted(str(e.job_id) for e in queued) == sorted(selected)
    for execution in queued:  # the message links to each new execution's page
        assert reverse("admin:executions_backupexecution_change", args=[execution.pk]) in html
    assert len(callbacks) == 1  # the messages go out once the rows are committed


def test_enabling_from_the_admin_gives_the_job_a_next_run(admin_client):
    job = BackupJobFactory.create(enabled=False)
    assert job.next_execution_at is None
    admin_client.post(CHANGELIST, {"action": "enable", "_selected_action": [str(job.pk)]})
    job = BackupJob.objects.get(pk=job.pk)
    assert job.enabled is True
    assert job.next_execution_at is not None


def test_disabling_from_the_admin_clears_the_next_run(admin_client):
    job = BackupJobFactory.create(enabled=True)
    assert job.next_execution_at is not None
    admin_client.post(CHANGELIST, {"action": "disable", "_selected_action": [str(job.pk)]})
    job = BackupJob.objects.get(pk=job.pk)
    assert job.enabled is False
    assert job.next_execution_at is None
