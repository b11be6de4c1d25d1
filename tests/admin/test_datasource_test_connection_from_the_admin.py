"""Test connection of a datasource, from its page and from the changelist: checked now,
recorded as a health check, reported as a success or an error message without secrets."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from datasources.models import HealthCheck
from tests.factories import DatasourceFactory
from tests.support.databases import PG_CONNECTION

pytestmark = pytest.mark.django_db

SECRET = "never-Shown-42"


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_a_reachable_datasource_reports_success_from_its_page(admin_client):
    datasource = DatasourceFactory.create(
        name="local pg", connection_config={**PG_CONNECTION, "database": "postgres"}
    )
    page = reverse("admin:datasources_datasource_change", args=[datasource.pk])
    assert 'id="action-test-connection"' in admin_client.get(page).content.decode()
    url = reverse("admin:datasources_datasource_test_connection", args=[datasource.pk])
    response = admin_client.post(url)
    assert response.status_code == 302
    [(level, text)] = _messages(response)
    assert level == "success"
    assert text.startswith("local pg: connection OK")
    check = HealthCheck.objects.get(datasource=datasource, status="ok")
    assert reverse("admin:datasources_healthcheck_change", args=[check.pk]) in text


def test_an_unreachable_datasource_reports_an_error_from_the_changelist(admin_client):
    datasource = DatasourceFactory.create(
        name="gone pg",
        connection_config={**PG_CONNECTION, "port": 1, "password": SECRET, "database": "x"},
    )
    response = admin_client.post(
        reverse("admin:datasources_datasource_changelist"),
        {"action": "test_connection", "_selected_action": [str(datasource.pk)]},
    )
    [(level, text)] = _messages(response)
    assert level == "error"
    assert text.startswith("gone pg: ")
    assert SECRET not in text
    assert HealthCheck.objects.filter(datasource=datasource).exclude(status="ok").count() == 1
