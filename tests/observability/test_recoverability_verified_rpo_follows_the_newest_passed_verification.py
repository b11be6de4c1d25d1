"""Verified RPO is the age of the newest backup whose verification passed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executions import recoverability
from tests.observability._history import completed, verified

pytestmark = pytest.mark.django_db


def _verified_rpo(job, now):
    job.refresh_from_db()
    return recoverability.of(job, now, 7).verified_rpo_seconds


def test_verified_rpo_is_the_age_of_the_newest_verified_backup(backup_job):
    older = completed(backup_job)
    newer = completed(backup_job)
    now = newer.finished_at + timedelta(days=1)
    verified(older)
    assert _verified_rpo(backup_job, now) == (now - older.finished_at).total_seconds()
    verified(newer)
    assert _verified_rpo(backup_job, now) == (now - newer.finished_at).total_seconds()


def test_an_older_backup_verified_later_does_not_move_it_back(backup_job):
    older = completed(backup_job)
    newer = completed(backup_job)
    now = newer.finished_at + timedelta(days=1)
    verified(newer)
    verified(older)
    assert _verified_rpo(backup_job, now) == (now - newer.finished_at).total_seconds()
    assert backup_job.last_verification_backup_id == older.pk


def test_a_failed_verification_of_the_newest_verified_backup_falls_back_to_the_previous(
    backup_job,
):
    older = completed(backup_job)
    newer = completed(backup_job)
    now = newer.finished_at + timedelta(days=1)
    verified(older)
    verified(newer)
    verified(newer, status="failed")
    assert _verified_rpo(backup_job, now) == (now - older.finished_at).total_seconds()
    assert backup_job.last_verification_status == "failed"


def test_a_verified_rpo_without_any_passed_verification_is_none(backup_job):
    backup = completed(backup_job)
    verified(backup, status="failed")
    assert _verified_rpo(backup_job, backup.finished_at) is None
