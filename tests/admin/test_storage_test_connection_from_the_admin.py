"""Test connection of a storage location, from its page and from the changelist."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from storage.models import StorageLocation
from tests.factories import StorageLocationFactory

pytestmark = pytest.mark.django_db


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_a_writable_directory_reports_healthy_with_its_free_space(admin_client, tmp_path):
    location = StorageLocationFactory.create(name="local disk", config={"path": str(tmp_path)})
    page = reverse("admin:storage_storagelocation_change", args=[location.pk])
    assert 'id="action-test-connection"' in admin_client.get(page).content.decode()
    url = reverse("admin:storage_storagelocation_test_connection", args=[location.pk])
    [(level, text)] = _messages(admin_client.post(url))
    assert level == "success"
    assert text.startswith("local disk: Healthy, ")
    assert "free" in text
    location.refresh_from_db()
    assert location.status == StorageLocation.Status.HEALTHY


def test_a_missing_directory_reports_an_error(admin_client, tmp_path):
    location = StorageLocationFactory.create(
        name="missing disk", config={"path": str(tmp_path / "nowhere")}
    )
    response = admin_client.post(
        reverse("admin:storage_storagelocation_changelist"),
        {"action": "test_connection", "_selected_action": [str(location.pk)]},
    )
    [(level, text)] = _messages(response)
    assert level == "error"
    assert text.startswith("missing disk: Unreachable")
    location.refresh_from_db()
    assert location.status == StorageLocation.Status.UNREACHABLE
