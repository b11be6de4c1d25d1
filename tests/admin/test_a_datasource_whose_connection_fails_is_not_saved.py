"""Saving a datasource tests its connection first; a failure names its category, saves
nothing and offers "Save anyway"."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from django.urls import reverse

from datasources.models import Datasource, HealthCheck
from tests.support.admin import datasource_form

ADD = reverse("admin:datasources_datasource_add") + "?type=postgres"


@pytest.fixture
def nologin_role() -> Iterator[str]:
    role = "dgtest_admin_" + secrets.token_hex(4)
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f"CREATE ROLE {role} NOLOGIN")
    yield role
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f"DROP ROLE {role}")


@pytest.fixture
def locked_database() -> Iterator[tuple[str, str]]:
    """A database whose CONNECT privilege is revoked, and a role that may log in elsewhere."""
    suffix = secrets.token_hex(4)
    role, database = f"dgtest_admin_{suffix}", f"dgtest_locked_{suffix}"
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f"CREATE ROLE {role} LOGIN")
        c.execute(f"CREATE DATABASE {database}")
        c.execute(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC")
    yield role, database
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f"DROP DATABASE {database} WITH (FORCE)")
        c.execute(f"DROP ROLE {role}")


def test_a_database_the_role_may_not_connect_to_is_permission_denied(
    admin_client, db, locked_database
):
    role, database = locked_database
    response = admin_client.post(
        ADD, datasource_form(config_username=role, config_database=database)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("Permission denied" in error for error in errors), errors
    assert not Datasource.objects.exists()


def test_a_closed_port_is_unreachable(admin_client, db):
    response = admin_client.post(ADD, datasource_form(config_port="1"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("Unreachable" in error for error in errors), errors
    assert 'name="save_anyway"' in response.content.decode()
    assert "Save anyway" in response.content.decode()
    assert not Datasource.objects.exists()
    assert not HealthCheck.objects.exists()


def test_a_database_that_does_not_exist_is_missing(admin_client, db):
    response = admin_client.post(ADD, datasource_form(config_database="dgtest_no_such_db"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("Missing" in error and "dgtest_no_such_db" in error for error in errors), errors
    assert 'name="save_anyway"' in response.content.decode()
    assert not Datasource.objects.exists()


def test_a_login_the_server_refuses_is_authentication_failed_without_the_password(
    admin_client, db, nologin_role
):
    password = "typed-Secret-" + secrets.token_hex(4)
    response = admin_client.post(
        ADD, datasource_form(config_username=nologin_role, config_password=password)
    )
    assert response.status_code == 200
    html = response.content.decode()
    errors = response.context["adminform"].form.non_field_errors()
    assert any("Authentication failed" in error for error in errors), errors
    assert password not in html
    assert not Datasource.objects.exists()


def test_the_form_offers_no_save_anyway_before_a_test_failed(admin_client, db):
    html = admin_client.get(ADD).content.decode()
    assert 'name="save_anyway"' not in html
