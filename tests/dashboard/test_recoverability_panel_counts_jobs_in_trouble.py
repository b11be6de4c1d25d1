"""The recoverability panel counts the enabled jobs missing a target, overdue or never
verified, lists the worst first linking to each, and the headline names them as warnings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from executions.dashboard import headline, recoverability_panel
from jobs.models import BackupJob
from tests import factories
from tests.observability._history import completed, verified

pytestmark = pytest.mark.django_db


def _aged(job: BackupJob, days: float) -> None:
    """Move the job's newest backup ``days`` into the past, as if it ran then."""
    moved = timezone.now() - timedelta(days=days)
    BackupJob.objects.filter(pk=job.pk).update(last_completed_at=moved)


def test_the_panel_counts_each_trouble_and_lists_the_worst_first():
    late = factories.BackupJobFactory.create(name="late", rpo_target_minutes=60)
    completed(late)
    _aged(late, 2)
    later = factories.BackupJobFactory.create(name="later", rpo_target_minutes=60)
    completed(later)
    _aged(later, 3)
    slow = factories.BackupJobFactory.create(name="slow", rto_target_minutes=1)
    verified(completed(slow), restore_seconds=600.0)
    unverified = factories.BackupJobFactory.create(name="unverified")
    completed(unverified)
    _aged(unverified, 8)
    factories.BackupJobFactory.create(name="off", enabled=False, rpo_target_minutes=1)

    panel = recoverability_panel(timezone.now())

    assert (panel.jobs, panel.rpo_target_missed, panel.rto_target_missed) == (4, 2, 1)
    assert panel.verification_overdue == 1  # unverified, 8 days past a 7-day window
    assert panel.never_verified == 3
    assert [row.name for row in panel.worst] == ["later", "late", "unverified", "slow"]
    assert panel.worst[0].url == reverse("admin:jobs_backupjob_change", args=[later.pk])
    assert panel.worst[0].rpo.startswith("72 h")
    assert panel.worst[3].rto.startswith("10 min 0 s for ")


def test_the_headline_names_missed_targets_and_overdue_verifications_after_failures():
    factories.BackupJobFactory.create(failure_streak=1)
    late = factories.BackupJobFactory.create(rpo_target_minutes=60)
    completed(late)
    _aged(late, 8)
    shown = headline()
    assert shown.text == "1 job failing, 1 RPO target missed, 1 verification overdue"
    assert shown.level == "critical"
    assert [t.url for t in shown.troubles[1:]] == ["#recoverability", "#recoverability"]


def test_missed_targets_alone_are_a_warning():
    slow = factories.BackupJobFactory.create(rto_target_minutes=1)
    verified(completed(slow), restore_seconds=120.0)
    assert headline().text == "1 RTO target missed"
    assert headline().level == "warning"


def test_the_dashboard_shows_the_panel(admin_client):
    slow = factories.BackupJobFactory.create(name="slow restore", rto_target_minutes=1)
    verified(completed(slow), restore_seconds=120.0)
    text = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="recoverability"' in text
    assert "slow restore" in text
    assert "RTO target missed" in text
