"""Storage space and health-check latency are shown in human units, not raw numbers."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from datasources.models import HealthCheck
from tests import factories


def test_the_storage_list_shows_available_space_in_binary_units(admin_client, db):
    factories.StorageLocationFactory.create(available_space_gb=Decimal("912.5"))
    html = admin_client.get(reverse("admin:storage_storagelocation_changelist")).content.decode()
    assert "912.5 GiB" in html


def test_the_health_history_shows_latency_in_seconds(admin_client, datasource):
    HealthCheck.objects.create(datasource=datasource, status="ok", latency_ms=1234)
    html = admin_client.get(reverse("admin:datasources_healthcheck_changelist")).content.decode()
    assert "1.2 s" in html
