"""/api/storage-locations with real local directories and a closed loopback S3 port."""

from __future__ import annotations

import pytest

from core.fields import MASK
from storage.models import StorageLocation
from tests.factories import StorageLocationFactory
from tests.support.api import S3_CONFIG, S3_SECRET

pytestmark = pytest.mark.django_db


def _create(api, path, **overrides):
    body = {"name": "disk", "type": "local", "config": {"path": str(path)}, **overrides}
    return api.post("/api/storage-locations", body, format="json")


def test_creating_a_writable_directory_reports_its_free_space(api, storage_dir):
    response = _create(api, storage_dir)
    assert response.status_code == 201, response.data
    assert response.data["status"] in {"healthy", "full"}
    assert float(response.data["available_space_gb"]) > 0


def test_a_missing_directory_is_refused_with_the_reason(api, tmp_path):
    response = _create(api, tmp_path / "nowhere")
    assert response.status_code == 400
    assert "does not exist" in str(response.data["config"])
    assert not StorageLocation.objects.exists()


def test_a_relative_path_is_a_config_field_error(api):
    response = _create(api, "backups")
    assert response.status_code == 400
    assert "path" in response.data["config"]


def test_an_unreachable_s3_endpoint_is_refused(api):
    response = api.post(
        "/api/storage-locations",
        {"name": "s3", "type": "s3", "config": S3_CONFIG},
        format="json",
    )
    assert response.status_code == 400
    assert "Connection test failed" in str(response.data["config"])
    assert S3_SECRET not in response.content.decode()


def test_the_secret_key_is_shown_masked(api):
    location = StorageLocationFactory.create(type="s3", config=S3_CONFIG)
    response = api.get(f"/api/storage-locations/{location.pk}")
    assert response.data["config"]["secret_access_key"] == MASK
    assert S3_SECRET not in api.get("/api/storage-locations").content.decode()


def test_making_a_location_the_default_unsets_the_previous_one(api, storage_dir, tmp_path):
    first = _create(api, storage_dir, is_default=True)
    other = tmp_path / "other"
    other.mkdir()
    second = _create(api, other, name="other", is_default=True)
    assert second.status_code == 201, second.data
    defaults = list(StorageLocation.objects.filter(is_default=True).values_list("pk", flat=True))
    assert [str(pk) for pk in defaults] == [second.data["id"]]
    response = api.patch(
        f"/api/storage-locations/{first.data['id']}", {"is_default": True}, format="json"
    )
    assert response.status_code == 200
    assert str(StorageLocation.objects.get(is_default=True).pk) == first.data["id"]


def test_test_connection_reports_an_unreachable_location(api):
    location = StorageLocationFactory.create(type="s3", config=S3_CONFIG)
    response = api.post(f"/api/storage-locations/{location.pk}/test-connection")
    assert response.status_code == 200
    assert response.data["status"] == "unreachable"
    assert S3_SECRET not in response.content.decode()


def test_test_connection_of_a_working_directory_is_healthy_or_full(api, location):
    response = api.post(f"/api/storage-locations/{location.pk}/test-connection/")
    assert response.status_code == 200
    assert response.data["status"] in {"healthy", "full"}
    assert response.data["available_space_gb"] is not None


def test_deleting_a_location_used_by_a_job_is_a_conflict(api, job):
    response = api.delete(f"/api/storage-locations/{job.storage_location_id}")
    assert response.status_code == 409
    assert response.data == {
        "detail": "Backup jobs or executions use this location; delete them first."
    }
