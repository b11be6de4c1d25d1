"""Changing a datasource with its password left blank tests (and keeps) the stored password."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest
from django.urls import reverse

from datasources.models import Datasource
from tests import factories

ROOT = ["mysql", "-h127.0.0.1", "-uroot", "--protocol=TCP", "-e"]
PASSWORD = "stored-Secret-" + secrets.token_hex(4)


@pytest.fixture
def mariadb_user() -> Iterator[str]:
    user = "dgtest_admin_" + secrets.token_hex(4)
    for host in ("127.0.0.1", "%"):
        subprocess.run(
            [*ROOT, f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{PASSWORD}'"], check=True
        )
    yield user
    for host in ("127.0.0.1", "%"):
        subprocess.run([*ROOT, f"DROP USER '{user}'@'{host}'"], check=True)


@pytest.fixture
def mariadb_datasource(db, mariadb_user) -> Datasource:
    return factories.DatasourceFactory.create(
        name="shop",
        type="mysql",
        connection_config={
            "host": "127.0.0.1",
            "port": 3306,
            "database": "mysql",
            "username": mariadb_user,
            "password": PASSWORD,
            "ssl_enabled": False,
        },
    )


def form(datasource: Datasource, **overrides: object) -> dict[str, object]:
    config = datasource.connection_config
    return {
        "name": "shop renamed",
        "enabled": "on",
        "tags": "",
        "config_host": config["host"],
        "config_port": config["port"],
        "config_database": config["database"],
        "config_username": config["username"],
        "config_password": "",
        **overrides,
    }


def test_a_blank_password_is_tested_with_the_stored_one(admin_client, mariadb_datasource):
    url = reverse("admin:datasources_datasource_change", args=[mariadb_datasource.pk])
    response = admin_client.post(url, form(mariadb_datasource))
    assert response.status_code == 302, response.content.decode()
    mariadb_datasource.refresh_from_db()
    assert mariadb_datasource.name == "shop renamed"
    assert mariadb_datasource.connection_config["password"] == PASSWORD
    assert mariadb_datasource.status == Datasource.Status.HEALTHY


def test_a_wrong_typed_password_fails_without_being_shown(admin_client, mariadb_datasource):
    url = reverse("admin:datasources_datasource_change", args=[mariadb_datasource.pk])
    wrong = "wrong-" + secrets.token_hex(6)
    response = admin_client.post(url, form(mariadb_datasource, config_password=wrong))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Authentication failed" in html
    assert wrong not in html
    assert PASSWORD not in html
    mariadb_datasource.refresh_from_db()
    assert mariadb_datasource.name == "shop"
    assert mariadb_datasource.connection_config["password"] == PASSWORD
