"""The datasource admin edits the per-type connection config and never shows a secret."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasources.models import Datasource
from tests.support.admin import DATASOURCE_SECRET

ADD = reverse("admin:datasources_datasource_add")
CHANGELIST = reverse("admin:datasources_datasource_changelist")


def change_url(datasource: Datasource) -> str:
    return reverse("admin:datasources_datasource_change", args=[datasource.pk])


def change_form_data(datasource: Datasource, **overrides: object) -> dict[str, object]:
    config = datasource.connection_config
    data: dict[str, object] = {
        "name": datasource.name,
        "enabled": "on",
        "tags": "production",
        # The hosts here are made up; these tests are about the settings, not the connection.
        "save_anyway": "on",
        "config_host": config["host"],
        "config_port": config["port"],
        "config_database": config["database"],
        "config_username": config["username"],
        "config_password": "",
        "config_ssl_enabled": "on" if config["ssl_enabled"] else "",
    }
    data.update(overrides)
    return data


def test_the_add_page_first_asks_for_the_type(admin_client, db):
    response = admin_client.get(ADD)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="type"' in html
    assert 'value="postgres"' in html
    assert "config_host" not in html


def test_choosing_a_type_shows_that_types_fields(admin_client, db):
    html = admin_client.get(ADD, {"type": "postgres"}).content.decode()
    assert 'name="config_host"' in html
    assert 'name="config_password"' in html
    assert 'type="password"' in html
    assert 'name="config_source_path"' not in html


def test_an_unknown_type_is_a_form_error_not_a_server_error(admin_client, db):
    response = admin_client.get(ADD, {"type": "oracle"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    response = admin_client.post(f"{ADD}?type=oracle", {"name": "x"})
    assert response.status_code == 200
    assert not Datasource.objects.exists()


def test_adding_a_postgres_datasource_stores_its_config_and_secret(admin_client, db):
    response = admin_client.post(
        f"{ADD}?type=postgres",
        {
            "name": "billing",
            "enabled": "on",
            "tags": "prod, eu",
            "save_anyway": "on",
            "config_host": "10.0.0.5",
            "config_port": "6432",
            "config_database": "billing",
            "config_username": "dg",
            "config_password": "n3w-Secret",
        },
    )
    assert response.status_code == 302, response.content.decode()
    datasource = Datasource.objects.get(name="billing")
    assert datasource.type == "postgres"
    assert datasource.connection_config == {
        "host": "10.0.0.5",
        "port": 6432,
        "database": "billing",
        "username": "dg",
        "password": "n3w-Secret",
        "ssl_enabled": False,
    }
    assert datasource.tags == ["prod", "eu"]


def test_a_files_datasource_takes_one_pattern_per_line(admin_client, db):
    response = admin_client.post(
        f"{ADD}?type=files",
        {
            "name": "uploads",
            "tags": "",
            "save_anyway": "on",
            "config_source_path": "/srv/uploads",
            "config_include_patterns": "*.jpg\n*.png\n",
            "config_exclude_patterns": "tmp/*, cache/*",
        },
    )
    assert response.status_code == 302, response.content.decode()
    config = Datasource.objects.get(name="uploads").connection_config
    assert config["include_patterns"] == ["*.jpg", "*.png"]
    assert config["exclude_patterns"] == ["tmp/*", "cache/*"]


def test_the_change_page_and_changelist_never_contain_the_secret(admin_client, postgres_datasource):
    change = admin_client.get(change_url(postgres_datasource))
    assert change.status_code == 200
    assert DATASOURCE_SECRET not in change.content.decode()
    assert "db.internal" in change.content.decode()
    changelist = admin_client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert DATASOURCE_SECRET not in changelist.content.decode()


def test_leaving_the_secret_blank_keeps_the_stored_one(admin_client, postgres_datasource):
    response = admin_client.post(
        change_url(postgres_datasource),
        change_form_data(postgres_datasource, config_host="db2.internal"),
    )
    assert response.status_code == 302, response.content.decode()
    postgres_datasource.refresh_from_db()
    assert postgres_datasource.connection_config["host"] == "db2.internal"
    assert postgres_datasource.connection_config["password"] == DATASOURCE_SECRET


def test_typing_a_new_secret_replaces_the_stored_one(admin_client, postgres_datasource):
    response = admin_client.post(
        change_url(postgres_datasource),
        change_form_data(postgres_datasource, config_password="rotated"),
    )
    assert response.status_code == 302
    postgres_datasource.refresh_from_db()
    assert postgres_datasource.connection_config["password"] == "rotated"


def test_the_history_never_records_the_secret(admin_client, postgres_datasource):
    admin_client.post(
        change_url(postgres_datasource),
        change_form_data(postgres_datasource, config_password="rotated"),
    )
    history = admin_client.get(
        reverse("admin:datasources_datasource_history", args=[postgres_datasource.pk])
    )
    assert history.status_code == 200
    assert "rotated" not in history.content.decode()
    assert DATASOURCE_SECRET not in history.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("config_port", "abc", "Enter a whole number."),
        ("config_port", "70000", "65535"),
        ("config_host", "", "This field is required."),
    ],
)
def test_a_malformed_config_is_a_form_error_not_a_server_error(
    admin_client, postgres_datasource, field, value, message
):
    response = admin_client.post(
        change_url(postgres_datasource), change_form_data(postgres_datasource, **{field: value})
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert DATASOURCE_SECRET not in html
    postgres_datasource.refresh_from_db()
    assert postgres_datasource.connection_config["port"] == 5432


def test_the_type_cannot_be_changed_after_creation(admin_client, postgres_datasource):
    response = admin_client.post(
        change_url(postgres_datasource),
        change_form_data(postgres_datasource, type="mysql"),
    )
    assert response.status_code == 302
    postgres_datasource.refresh_from_db()
    assert postgres_datasource.type == "postgres"
