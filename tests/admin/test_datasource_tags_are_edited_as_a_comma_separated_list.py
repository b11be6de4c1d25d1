"""Datasource tags are typed as a comma-separated list, validated like the API's, and shown
as chips in the list."""

from __future__ import annotations

from django.urls import reverse

from tests import factories
from tests.support.admin import datasource_form

ADD = reverse("admin:datasources_datasource_add") + "?type=postgres"


def test_the_change_page_shows_the_tags_comma_separated(admin_client, db):
    datasource = factories.DatasourceFactory.create(tags=["prod", "eu"])
    form = (
        admin_client.get(reverse("admin:datasources_datasource_change", args=[datasource.pk]))
        .context["adminform"]
        .form
    )
    assert form["tags"].value() == "prod, eu"
    assert 'type="text" name="tags"' in str(form["tags"])


def test_the_list_shows_each_tag_as_a_chip(admin_client, db):
    factories.DatasourceFactory.create(tags=["prod", "eu"])
    html = admin_client.get(reverse("admin:datasources_datasource_changelist")).content.decode()
    assert html.count('class="dg-tag"') == 2
    assert ">prod</span>" in html
    assert ">eu</span>" in html


def test_blanks_and_repeats_are_dropped(admin_client, db):
    from datasources.models import Datasource

    response = admin_client.post(ADD, datasource_form(tags=" prod , , eu, prod "))
    assert response.status_code == 302, response.content.decode()
    assert Datasource.objects.get(name="orders").tags == ["prod", "eu"]


def test_a_tag_longer_than_the_api_allows_is_a_field_error(admin_client, db):
    response = admin_client.post(ADD, datasource_form(tags="ok, " + "x" * 101))
    assert response.status_code == 200
    assert "Each tag is 1 to 100 characters." in str(
        response.context["adminform"].form.errors["tags"]
    )
