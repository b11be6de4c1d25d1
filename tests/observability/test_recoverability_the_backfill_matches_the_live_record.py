"""The migration's backfill gives a history run before it the record the runs keep live."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps

from executions import recoverability
from jobs.models import BackupJob
from tests.observability._history import completed, failed, verified

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("executions.migrations.0003_job_recoverability_record")
RECORD = [f for f in recoverability.FIELDS if f.startswith(("last_", "verified_"))]


def _record(job: BackupJob) -> dict[str, Any]:
    record: dict[str, Any] = BackupJob.objects.filter(pk=job.pk).values(*RECORD).get()
    return record


def test_the_backfill_yields_the_live_record(backup_job):
    older = completed(backup_job, size=100)
    newer = completed(backup_job, size=200)
    verified(older, restore_seconds=20.0)
    verified(newer, restore_seconds=25.0)
    verified(newer, status="failed", restore_seconds=27.0)  # restored, then a check failed
    failed(backup_job)
    live = _record(backup_job)
    assert live["verified_backup_id"] == older.pk

    BackupJob.objects.filter(pk=backup_job.pk).update(
        **{field: "" if field.endswith("_status") else None for field in RECORD}
    )
    backfill.fill(apps, None)
    assert _record(backup_job) == live
