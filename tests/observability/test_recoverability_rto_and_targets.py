"""RTO is the last measured restore with its size; the targets are missed when exceeded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executions import recoverability
from tests.observability._history import completed, verified

pytestmark = pytest.mark.django_db


def test_rto_is_the_last_measured_restore_with_the_size_it_restored(backup_job):
    first = completed(backup_job, size=100)
    second = completed(backup_job, size=200)
    verified(first, restore_seconds=30.0)
    verified(second, restore_seconds=45.5)
    backup_job.refresh_from_db()
    shown = recoverability.of(backup_job, None, 7).as_dict()
    assert shown["rto_seconds"] == 45.5
    assert shown["rto_bytes"] == second.size_bytes == 600


def test_the_rpo_target_is_missed_once_the_newest_backup_is_older_than_it(backup_job):
    backup = completed(backup_job)
    backup_job.rpo_target_minutes = 60
    backup_job.save()
    backup_job.refresh_from_db()
    in_time = recoverability.of(backup_job, backup.finished_at + timedelta(minutes=59), 7)
    late = recoverability.of(backup_job, backup.finished_at + timedelta(minutes=61), 7)
    assert not in_time.rpo_target_missed
    assert late.rpo_target_missed


def test_the_rto_target_is_missed_when_the_measured_restore_took_longer(backup_job):
    backup = completed(backup_job)
    verified(backup, restore_seconds=90.0)
    backup_job.refresh_from_db()
    backup_job.rto_target_minutes = 2
    assert not recoverability.of(backup_job, None, 7).rto_target_missed
    backup_job.rto_target_minutes = 1
    assert recoverability.of(backup_job, None, 7).rto_target_missed


def test_a_job_without_targets_misses_none(backup_job):
    backup = completed(backup_job)
    verified(backup, restore_seconds=10_000.0)
    backup_job.refresh_from_db()
    rec = recoverability.of(backup_job, backup.finished_at + timedelta(days=30), 7)
    assert not rec.rpo_target_missed
    assert not rec.rto_target_missed
