"""A storage location whose test passes is saved and checked: healthy, with its free space."""

from __future__ import annotations

from django.urls import reverse

from storage.models import StorageLocation

ADD = reverse("admin:storage_storagelocation_add")


def test_a_writable_folder_is_saved_healthy_with_its_free_space(admin_client, tmp_path):
    response = admin_client.post(
        f"{ADD}?type=local", {"name": "disk", "config_path": str(tmp_path)}
    )
    assert response.status_code == 302, response.content.decode()
    location = StorageLocation.objects.get(name="disk")
    assert location.status in {StorageLocation.Status.HEALTHY, StorageLocation.Status.FULL}
    assert location.available_space_gb is not None
    assert list(tmp_path.iterdir()) == []
