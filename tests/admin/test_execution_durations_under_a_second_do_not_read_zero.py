"""A run that took less than a second shows what it took, not 0."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def test_a_short_run_shows_its_fraction_of_a_second(admin_client, completed_backup):
    BackupExecution.objects.filter(pk=completed_backup.pk).update(
        duration_seconds=0,
        finished_at=completed_backup.started_at + timedelta(milliseconds=400),
    )
    page = reverse("admin:executions_backupexecution_change", args=[completed_backup.pk])
    html = admin_client.get(page).content.decode()
    assert "0.4 s" in html
    changelist = admin_client.get(reverse("admin:executions_backupexecution_changelist"))
    assert "0.4 s" in changelist.content.decode()
