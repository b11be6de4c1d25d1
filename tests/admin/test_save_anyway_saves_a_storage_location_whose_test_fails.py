"""Ticking "Save anyway" saves a storage location whose test fails; it stays Unknown."""

from __future__ import annotations

from django.urls import reverse

from storage.models import StorageLocation

ADD = reverse("admin:storage_storagelocation_add")


def test_save_anyway_saves_the_missing_folder_as_unknown(admin_client, tmp_path):
    missing = tmp_path / "not-mounted"
    response = admin_client.post(
        f"{ADD}?type=local", {"name": "disk", "config_path": str(missing), "save_anyway": "on"}
    )
    assert response.status_code == 302, response.content.decode()
    location = StorageLocation.objects.get(name="disk")
    assert location.config["path"] == str(missing)
    assert location.status == StorageLocation.Status.UNKNOWN
