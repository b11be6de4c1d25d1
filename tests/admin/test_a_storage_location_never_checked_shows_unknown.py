"""A storage location no check has looked at yet is shown as "Unknown", not "Healthy"."""

from __future__ import annotations

from django.urls import reverse

from storage.health import check_location
from storage.models import StorageLocation
from tests import factories


def test_a_new_location_is_unknown_until_its_first_check(admin_client, tmp_path):
    location = factories.StorageLocationFactory.create(name="disk", config={"path": str(tmp_path)})
    assert location.status == StorageLocation.Status.UNKNOWN
    html = admin_client.get(reverse("admin:storage_storagelocation_changelist")).content.decode()
    assert ">Unknown<" in html
    assert ">Healthy<" not in html

    check_location(location)

    html = admin_client.get(reverse("admin:storage_storagelocation_changelist")).content.decode()
    assert ">Healthy<" in html
    assert ">Unknown<" not in html
