"""Saving a storage location tests it first; a failure names its category, saves nothing and
offers "Save anyway"."""

from __future__ import annotations

from django.urls import reverse

from storage.models import StorageLocation
from tests.support.admin import STORAGE_SECRET

ADD = reverse("admin:storage_storagelocation_add")


def errors_of(response) -> list[str]:
    return list(response.context["adminform"].form.non_field_errors())


def test_a_folder_that_does_not_exist_is_missing(admin_client, tmp_path):
    missing = tmp_path / "not-mounted"
    response = admin_client.post(f"{ADD}?type=local", {"name": "disk", "config_path": str(missing)})
    assert response.status_code == 200
    assert any("Missing" in error and str(missing) in error for error in errors_of(response))
    assert 'name="save_anyway"' in response.content.decode()
    assert not StorageLocation.objects.exists()


def test_a_folder_that_cannot_be_written_is_permission_denied(admin_client, db):
    # sysfs refuses new files to every user, root included: a real unwritable directory.
    response = admin_client.post(f"{ADD}?type=local", {"name": "disk", "config_path": "/sys"})
    assert response.status_code == 200
    assert any("Permission denied" in error for error in errors_of(response)), errors_of(response)
    assert not StorageLocation.objects.exists()


def test_an_endpoint_nobody_answers_is_unreachable_without_the_secret(admin_client, db):
    response = admin_client.post(
        f"{ADD}?type=s3",
        {
            "name": "offsite",
            "config_endpoint": "http://127.0.0.1:1",
            "config_bucket": "backups",
            "config_region": "us-east-1",
            "config_access_key_id": "AKIAEXAMPLE",
            "config_secret_access_key": STORAGE_SECRET,
            "config_storage_class": "STANDARD",
        },
    )
    assert response.status_code == 200
    assert any("Unreachable" in error for error in errors_of(response)), errors_of(response)
    assert STORAGE_SECRET not in response.content.decode()
    assert not StorageLocation.objects.exists()
