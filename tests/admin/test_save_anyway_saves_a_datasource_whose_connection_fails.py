"""Ticking "Save anyway" saves a datasource whose connection test fails; it is Unknown."""

from __future__ import annotations

from django.urls import reverse

from datasources.models import Datasource
from tests.support.admin import datasource_form

ADD = reverse("admin:datasources_datasource_add") + "?type=postgres"


def test_save_anyway_saves_the_unreachable_datasource_as_unknown(admin_client, db):
    response = admin_client.post(ADD, datasource_form(config_port="1", save_anyway="on"))
    assert response.status_code == 302, response.content.decode()
    datasource = Datasource.objects.get(name="orders")
    assert datasource.connection_config["port"] == 1
    assert datasource.status == Datasource.Status.UNKNOWN
    assert datasource.last_health_check_at is None


def test_the_history_records_what_changed_not_the_checkbox(admin_client, datasource):
    from django.contrib.admin.models import LogEntry

    url = reverse("admin:datasources_datasource_change", args=[datasource.pk])
    response = admin_client.post(
        url, datasource_form(name=datasource.name, config_port="1", save_anyway="on")
    )
    assert response.status_code == 302, response.content.decode()
    message = LogEntry.objects.get(object_id=str(datasource.pk)).get_change_message()
    assert "Port" in message
    assert "Save anyway" not in message
