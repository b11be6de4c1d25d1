"""/api/executions: filters, cancel, delete, and a whole run downloaded through the API."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from executions.backup import perform_backup
from executions.models import BackupChunk, BackupExecution
from tests.factories import BackupExecutionFactory
from tests.support.api import PG

pytestmark = pytest.mark.django_db


def test_a_job_created_run_and_downloaded_through_the_api_matches_its_manifest(
    api, storage_dir, pg_database
):
    datasource = api.post(
        "/api/datasources",
        {"name": "app", "type": "postgres", "connection_config": {**PG, "database": pg_database}},
        format="json",
    )
    assert datasource.status_code == 201, datasource.data
    location = api.post(
        "/api/storage-locations",
        {"name": "disk", "type": "local", "config": {"path": str(storage_dir)}},
        format="json",
    )
    assert location.status_code == 201, location.data
    job = api.post(
        "/api/backup-jobs",
        {
            "name": "nightly",
            "datasource_id": datasource.data["id"],
            "storage_location_id": location.data["id"],
            "schedule_cron": "0 3 * * *",
            "backup_options": {"compression": "gzip", "max_file_size_mb": 1},
        },
        format="json",
    )
    assert job.status_code == 201, job.data
    queued = api.post(f"/api/backup-jobs/{job.data['id']}/run")
    assert queued.status_code == 202
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=queued.data["id"]
    )
    execution.claim(worker="test")
    assert perform_backup(execution), execution.error_message

    detail = api.get(f"/api/executions/{execution.pk}")
    assert detail.data["status"] == "completed"
    assert detail.data["chunks"]
    response = api.get(f"/api/executions/{execution.pk}/download")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    manifest_path = storage_dir / detail.data["backup_path"] / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"]
    assert int(response["Content-Length"]) == len(body) == detail.data["compressed_size_bytes"]
    assert response["Content-Disposition"].startswith("attachment; filename=")


def _completed(job, **fields):
    return BackupExecutionFactory.create(job=job, status="completed", **fields)


def test_download_of_an_execution_without_an_artifact_is_a_conflict(api, job):
    execution = BackupExecutionFactory.create(job=job)
    assert api.get(f"/api/executions/{execution.pk}/download").status_code == 409


def test_download_asking_for_bytes_streams_a_stored_artifact(api, job, storage_dir):
    (storage_dir / "run").mkdir()
    (storage_dir / "run" / "backup.bin.part001").write_bytes(b"abc")
    (storage_dir / "run" / "backup.bin.part002").write_bytes(b"def")
    execution = _completed(job, backup_path="run", compressed_size_bytes=6)
    for number in (2, 1):
        BackupChunk.objects.create(
            execution=execution,
            chunk_number=number,
            file_path=f"run/backup.bin.part00{number}",
            size_bytes=3,
            checksum="0" * 64,
        )
    response = api.get(
        f"/api/executions/{execution.pk}/download", HTTP_ACCEPT="application/octet-stream"
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"abcdef"
    assert 'filename="' in response["Content-Disposition"]
    assert response["Content-Disposition"].endswith('-backup.bin"')


def test_executions_filter_by_status_kind_and_date(api, job):
    old = _completed(job, created_at=timezone.now() - timedelta(days=3))
    BackupExecutionFactory.create(job=job, status="failed")
    assert api.get("/api/executions?status=failed").data["count"] == 1
    assert api.get("/api/executions?kind=restore").data["count"] == 0
    after = (timezone.now() - timedelta(days=1)).isoformat()
    ids = [e["id"] for e in api.get("/api/executions", {"created_before": after}).data["results"]]
    assert ids == [str(old.pk)]
    assert api.get("/api/executions", {"created_after": after}).data["count"] == 1


def test_executions_filter_by_job_datasource_and_storage(api, job):
    BackupExecutionFactory.create(job=job)
    BackupExecutionFactory.create()
    assert api.get(f"/api/executions?job={job.pk}").data["count"] == 1
    assert api.get(f"/api/executions?datasource={job.datasource_id}").data["count"] == 1
    assert api.get(f"/api/executions?storage={job.storage_location_id}").data["count"] == 1


def test_a_bad_filter_value_is_a_400(api):
    response = api.get("/api/executions?created_after=yesterday&status=done")
    assert response.status_code == 400
    assert set(response.data) == {"created_after", "status"}


def test_page_size_is_honoured_up_to_500(api, job):
    BackupExecution.objects.bulk_create(
        BackupExecution(job=job, datasource=job.datasource, storage_location=job.storage_location)
        for _ in range(7)
    )
    assert len(api.get("/api/executions?page_size=3").data["results"]) == 3
    assert api.get("/api/executions?page_size=3&page=3").data["next"] is None


def test_cancelling_a_queued_execution_cancels_it(api, job):
    execution = BackupExecutionFactory.create(job=job)
    response = api.post(f"/api/executions/{execution.pk}/cancel")
    assert response.status_code == 200
    assert response.data["status"] == "cancelled"


def test_cancelling_a_finished_execution_is_a_conflict(api, job):
    execution = _completed(job)
    assert api.post(f"/api/executions/{execution.pk}/cancel").status_code == 409


def test_deleting_without_confirm_is_refused_with_the_reason(api, job):
    execution = _completed(job)
    response = api.delete(f"/api/executions/{execution.pk}")
    assert response.status_code == 400
    assert "confirm=true" in str(response.data["confirm"])
    assert BackupExecution.objects.filter(pk=execution.pk).exists()


def test_deleting_a_running_execution_is_refused(api, job):
    execution = BackupExecutionFactory.create(job=job, status="running")
    assert api.delete(f"/api/executions/{execution.pk}?confirm=true").status_code == 409


def test_deleting_removes_the_artifact_then_the_record(api, job, storage_dir):
    (storage_dir / "run").mkdir()
    (storage_dir / "run" / "backup.bin").write_bytes(b"x")
    execution = _completed(job, backup_path="run")
    response = api.delete(f"/api/executions/{execution.pk}?confirm=true")
    assert response.status_code == 204
    assert not (storage_dir / "run").exists()
    assert not BackupExecution.objects.filter(pk=execution.pk).exists()


def test_a_missing_execution_is_a_404(api):
    assert api.get(f"/api/executions/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/executions/not-a-uuid").status_code == 404
