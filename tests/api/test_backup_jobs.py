"""/api/backup-jobs: validation, next run, alert fields, run now, retention preview."""

from __future__ import annotations

import uuid

import pytest

from executions.models import BackupExecution
from jobs.models import BackupJob
from tests.factories import BackupExecutionFactory

pytestmark = pytest.mark.django_db


def _body(datasource, location, **overrides):
    return {
        "name": "nightly",
        "datasource_id": str(datasource.pk),
        "storage_location_id": str(location.pk),
        "schedule_cron": "0 3 * * *",
        "schedule_timezone": "Europe/Berlin",
        **overrides,
    }


def test_creating_a_job_computes_its_next_run_in_its_time_zone(api, secret_datasource, location):
    response = api.post("/api/backup-jobs", _body(secret_datasource, location), format="json")
    assert response.status_code == 201, response.data
    job = BackupJob.objects.get(pk=response.data["id"])
    assert job.next_execution_at is not None
    local = job.next_execution_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (3, 0)
    assert response.data["retention_policy"]["keep_daily"] == 7


def test_a_disabled_job_has_no_next_run(api, secret_datasource, location):
    body = _body(secret_datasource, location, enabled=False)
    response = api.post("/api/backup-jobs", body, format="json")
    assert response.data["next_execution_at"] is None


def test_a_job_s_stale_threshold_is_set_and_its_alert_state_read(api, secret_datasource, location):
    body = _body(secret_datasource, location, stale_after_minutes=90)
    response = api.post("/api/backup-jobs", body, format="json")
    assert response.status_code == 201, response.data
    assert response.data["stale_after_minutes"] == 90
    assert response.data["failure_streak"] == 0
    assert response.data["stale_since"] is None
    assert BackupJob.objects.get(pk=response.data["id"]).stale_after_minutes == 90


@pytest.mark.parametrize("field", ["failure_streak", "stale_since"])
def test_a_job_s_alert_state_cannot_be_written(api, job, field):
    response = api.patch(f"/api/backup-jobs/{job.pk}", {field: None}, format="json")
    assert response.status_code == 400
    assert field in response.data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stale_after_minutes", 0),
        ("schedule_cron", "every night"),
        ("schedule_cron", "0 3 * * * *"),
        ("schedule_cron", "0 0 31 2 *"),
        ("schedule_timezone", "Mars/Olympus"),
        ("datasource_id", str(uuid.uuid4())),
        ("storage_location_id", "not-a-uuid"),
        ("retention_policy", {"keep_daily": -1}),
        ("backup_options", {"compression": "rar"}),
        ("backup_options", {"compresion": "zstd"}),
    ],
)
def test_a_bad_value_is_a_400_on_its_field(api, secret_datasource, location, field, value):
    body = _body(secret_datasource, location, **{field: value})
    response = api.post("/api/backup-jobs", body, format="json")
    assert response.status_code == 400
    assert field in response.data


def test_run_queues_a_manual_execution_and_answers_202(api, job):
    response = api.post(f"/api/backup-jobs/{job.pk}/run")
    assert response.status_code == 202
    execution = BackupExecution.objects.get(pk=response.data["id"])
    assert execution.status == "queued"
    assert execution.trigger == "manual"
    assert response.data["job_id"] == str(job.pk)


def test_run_of_a_missing_job_is_a_404(api):
    assert api.post(f"/api/backup-jobs/{uuid.uuid4()}/run").status_code == 404


def test_the_retention_preview_lists_what_would_be_deleted(api, job):
    from django.utils import timezone

    now = timezone.now()
    for days in range(12):
        BackupExecution.objects.create(
            job=job,
            datasource=job.datasource,
            storage_location=job.storage_location,
            status="completed",
            finished_at=now - __import__("datetime").timedelta(days=days * 40),
            compressed_size_bytes=10,
        )
    job.retention_policy = {"keep_daily": 1, "keep_weekly": 0, "keep_monthly": 2}
    job.save()
    response = api.get(f"/api/backup-jobs/{job.pk}/retention-preview")
    assert response.status_code == 200
    assert len(response.data["keep"]) + len(response.data["delete"]) == 12
    assert response.data["delete"]
    assert response.data["bytes_to_free"] == 10 * len(response.data["delete"])


def test_jobs_filter_by_datasource(api, job):
    assert api.get(f"/api/backup-jobs?datasource={job.datasource_id}").data["count"] == 1
    assert api.get(f"/api/backup-jobs?datasource={uuid.uuid4()}").data["count"] == 0


def test_deleting_a_job_with_executions_is_a_conflict_that_keeps_it(api, job):
    BackupExecutionFactory.create(job=job)
    response = api.delete(f"/api/backup-jobs/{job.pk}")
    assert response.status_code == 409
    assert response.data == {"detail": "This job has executions; delete them first."}
    assert BackupJob.objects.filter(pk=job.pk).exists()


def test_deleting_a_job_without_executions_removes_it(api, job):
    assert api.delete(f"/api/backup-jobs/{job.pk}").status_code == 204
    assert not BackupJob.objects.filter(pk=job.pk).exists()
