"""Datasource, health-check and storage times are labelled with their zone, UTC on hover."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse

from datasources.models import Datasource, HealthCheck
from tests import factories

CHECKED = datetime(2027, 3, 1, 8, 15, tzinfo=UTC)


def test_the_datasource_list_labels_the_last_health_check(admin_client, db):
    datasource = factories.DatasourceFactory.create()
    Datasource.objects.filter(pk=datasource.pk).update(last_health_check_at=CHECKED)
    html = admin_client.get(reverse("admin:datasources_datasource_changelist")).content.decode()
    assert '<time datetime="2027-03-01T08:15:00+00:00" title="2027-03-01 08:15:00 UTC">' in html
    assert "2027-03-01 08:15 UTC</time>" in html


def test_the_health_history_labels_each_check(admin_client, datasource):
    HealthCheck.objects.create(datasource=datasource, status="ok", checked_at=CHECKED)
    html = admin_client.get(reverse("admin:datasources_healthcheck_changelist")).content.decode()
    assert "2027-03-01 08:15 UTC</time>" in html


def test_the_storage_page_labels_its_timestamps(admin_client, storage_location):
    url = reverse("admin:storage_storagelocation_change", args=[storage_location.pk])
    html = admin_client.get(url).content.decode()
    assert "Created at" in html
    assert f"{storage_location.created_at:%Y-%m-%d %H:%M} UTC</time>" in html
