"""RPO now is the time since the newest completed backup; a failure after it does not move it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executions import recoverability
from tests.observability._history import completed, failed

pytestmark = pytest.mark.django_db


def test_rpo_now_is_the_time_since_the_newest_completed_backup(backup_job):
    completed(backup_job)
    newest = completed(backup_job)
    failed(backup_job)
    backup_job.refresh_from_db()
    now = newest.finished_at + timedelta(hours=3)
    rec = recoverability.of(backup_job, now, 7)
    assert rec.rpo_seconds == 3 * 3600
    assert rec.as_dict()["last_completed_at"] == newest.finished_at.isoformat()
    assert backup_job.last_attempt_status == "failed"


def test_a_job_that_never_completed_a_backup_has_no_rpo(backup_job):
    failed(backup_job)
    backup_job.refresh_from_db()
    rec = recoverability.of(backup_job, None, 7)
    assert rec.rpo_seconds is None
    assert rec.verified_rpo_seconds is None
    assert rec.rto_seconds is None
