"""The job's page has a Run now button; the message links to the new execution."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution
from tests.factories import BackupJobFactory

pytestmark = pytest.mark.django_db


def test_run_now_queues_a_manual_backup_and_links_to_it(
    admin_client, django_capture_on_commit_callbacks
):
    job = BackupJobFactory.create()
    page = reverse("admin:jobs_backupjob_change", args=[job.pk])
    assert 'id="action-run-now"' in admin_client.get(page).content.decode()
    with django_capture_on_commit_callbacks() as sent:
        response = admin_client.post(
            reverse("admin:jobs_backupjob_run_now", args=[job.pk]), follow=True
        )
    execution = BackupExecution.objects.get(job=job)
    assert execution.trigger == BackupExecution.Trigger.MANUAL
    assert execution.status == BackupExecution.Status.QUEUED
    assert len(sent) == 1
    assert response.redirect_chain[-1][0] == page
    link = reverse("admin:executions_backupexecution_change", args=[execution.pk])
    assert link in response.content.decode()
