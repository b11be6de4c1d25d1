"""Secrets the admin tests store and look for: no admin page may show them."""

from __future__ import annotations

DATASOURCE_SECRET = "pg-Secret-7f3a9"
STORAGE_SECRET = "s3-Secret-b81c2"

#: The local PostgreSQL the tests run against, as the datasource form's fields.
PG_FORM = {
    "config_host": "127.0.0.1",
    "config_port": "5432",
    "config_database": "postgres",
    "config_username": "postgres",
    "config_password": "",
}


def datasource_form(name: str = "orders", **overrides: object) -> dict[str, object]:
    """The POST body of the datasource add page for the local PostgreSQL."""
    return {"name": name, "enabled": "on", "tags": "", **PG_FORM, **overrides}
