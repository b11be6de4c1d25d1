"""A datasource whose connection test passes is saved, healthy, with tags from the form."""

from __future__ import annotations

from django.urls import reverse

from datasources.models import Datasource
from tests.support.admin import datasource_form

ADD = reverse("admin:datasources_datasource_add") + "?type=postgres"


def test_the_reachable_local_postgres_is_saved_healthy(admin_client, db):
    response = admin_client.post(ADD, datasource_form(tags="prod, eu"))
    assert response.status_code == 302, response.content.decode()
    datasource = Datasource.objects.get(name="orders")
    assert datasource.status == Datasource.Status.HEALTHY
    assert datasource.last_health_check_at is not None
    assert datasource.tags == ["prod", "eu"]
