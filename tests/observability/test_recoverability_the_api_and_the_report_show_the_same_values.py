"""The job's detail, its list row and ``/api/system/recoverability`` show the module's values."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions import recoverability
from tests.factories import BackupJobFactory
from tests.observability._history import completed, verified

pytestmark = pytest.mark.django_db

#: The fields that depend on the moment of the request.
MOVING = {"rpo_seconds", "verified_rpo_seconds", "expected_rpo_seconds"}


def _steady(shown: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in shown.items() if key not in MOVING}


def test_the_detail_the_list_and_the_report_agree(api, backup_job):
    backup_job.rpo_target_minutes = 1
    backup_job.rto_target_minutes = 1
    backup_job.save()
    backup = completed(backup_job)
    verified(backup, restore_seconds=75.0)
    backup_job.refresh_from_db()
    expected = recoverability.of(backup_job, None, 7).as_dict()

    detail = api.get(f"/api/backup-jobs/{backup_job.pk}").json()["recoverability"]
    listed = api.get("/api/backup-jobs").json()["results"][0]["recoverability"]
    report = api.get("/api/system/recoverability").json()

    assert _steady(detail) == _steady(listed) == _steady(expected)
    row = report["jobs"][0]
    assert _steady({k: row[k] for k in expected}) == _steady(expected)
    assert row["datasource"] == {
        "id": str(backup_job.datasource_id),
        "name": backup_job.datasource.name,
    }
    assert detail["rto_seconds"] == 75.0
    assert detail["rto_target_missed"] is True
    assert detail["rpo_seconds"] >= 0
    assert report["restore_test_every_days"] == 7
    assert report["summary"] == {
        "jobs": 1,
        "rpo_target_missed": 0,
        "rto_target_missed": 1,
        "verification_overdue": 0,
        "never_verified": 0,
    }


def test_the_targets_are_written_through_the_api(api, backup_job):
    url = f"/api/backup-jobs/{backup_job.pk}"
    body = {"rpo_target_minutes": 90, "rto_target_minutes": 15, "restore_test_every_days": 0}
    response = api.patch(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert {key: response.json()[key] for key in body} == body
    assert response.json()["recoverability"]["restore_test_every_days"] == 0
    cleared = api.patch(url, {"rpo_target_minutes": None}, format="json").json()
    assert cleared["rpo_target_minutes"] is None


def test_targets_out_of_range_are_refused(api, backup_job):
    url = f"/api/backup-jobs/{backup_job.pk}"
    assert api.patch(url, {"rpo_target_minutes": 0}, format="json").status_code == 400
    assert api.patch(url, {"restore_test_every_days": 366}, format="json").status_code == 400


def _report_queries(api) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get("/api/system/recoverability")
    assert response.status_code == 200
    return len(captured)


def test_the_report_costs_the_same_queries_for_3_and_30_jobs(api, backup_job):
    for _ in range(2):
        completed(BackupJobFactory.create())
    small = _report_queries(api)
    for _ in range(27):
        completed(BackupJobFactory.create())
    large = _report_queries(api)
    assert api.get("/api/system/recoverability").json()["summary"]["jobs"] == 30
    assert small == large


def test_a_job_never_verified_is_counted(api, backup_job):
    completed(backup_job)
    summary = api.get("/api/system/recoverability/").json()["summary"]
    assert summary["never_verified"] == 1
