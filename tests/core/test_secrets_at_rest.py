"""Connection secrets are encrypted at rest and read back transparently."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from core import system_settings
from core.crypto import DecryptionError
from core.models import SystemSetting
from datasources.models import Datasource
from storage.models import StorageLocation
from tests.factories import DatasourceFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-Passw0rd"


def _raw(table: str, column: str, pk: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST({column} AS TEXT) FROM {table} WHERE id = %s", [_db_id(pk)])
        return str(cursor.fetchone()[0])


def _db_id(pk: Any) -> Any:
    """``pk`` as the database stores it (SQLite keeps UUIDs as 32 hex digits)."""
    return pk if connection.vendor == "postgresql" else pk.hex


def test_a_datasource_password_is_not_readable_with_plain_sql():
    ds = DatasourceFactory.create(
        connection_config={
            "host": "h",
            "port": 1,
            "database": "d",
            "username": "u",
            "password": SECRET,
        }
    )
    raw = _raw("datasources", "connection_config", ds.pk)
    assert SECRET not in raw
    assert "$encrypted" in raw
    assert '"host": "h"' in raw  # only the secret is hidden


def test_the_orm_reads_the_plain_password_back():
    ds = DatasourceFactory.create()
    assert Datasource.objects.get(pk=ds.pk).connection_config["password"] == SECRET


@pytest.mark.parametrize(
    ("kind", "config", "secret_key"),
    [
        (
            "s3",
            {"bucket": "b", "region": "r", "access_key_id": "AK", "secret_access_key": SECRET},
            "secret_access_key",
        ),
        (
            "minio",
            {"endpoint": "http://m:9000", "bucket": "b", "access_key": "a", "secret_key": SECRET},
            "secret_key",
        ),
        (
            "backblaze",
            {
                "bucket_id": "i",
                "bucket_name": "name00",
                "application_key_id": "k",
                "application_key": SECRET,
            },
            "application_key",
        ),
        (
            "ssh",
            {
                "host": "h",
                "username": "u",
                "password": SECRET,
                "private_key": SECRET + "K",
                "remote_path": "/r",
            },
            "password",
        ),
    ],
)
def test_every_storage_secret_is_encrypted(kind, config, secret_key):
    loc = StorageLocationFactory.create(type=kind, config=config)
    raw = _raw("storage_locations", "config", loc.pk)
    assert SECRET not in raw
    assert StorageLocation.objects.get(pk=loc.pk).config[secret_key] == SECRET


def test_the_same_secret_encrypts_differently_each_time():
    a, b = DatasourceFactory.create(), DatasourceFactory.create()
    assert _raw("datasources", "connection_config", a.pk) != _raw(
        "datasources", "connection_config", b.pk
    ).replace(str(b.pk), str(a.pk))


def test_a_tampered_ciphertext_is_an_error_not_garbage():
    ds = DatasourceFactory.create()
    stored = json.loads(_raw("datasources", "connection_config", ds.pk))
    stored["password"]["$encrypted"] = "gAAAAABtampered"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE datasources SET connection_config = %s WHERE id = %s",
            [json.dumps(stored), _db_id(ds.pk)],
        )
    with pytest.raises(DecryptionError):
        Datasource.objects.get(pk=ds.pk)


def test_the_smtp_password_in_system_settings_is_encrypted():
    system_settings.ensure_defaults()
    SystemSetting.objects.filter(key="notifications.email_smtp_config").update(
        value={"host": "smtp", "password": SECRET}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(value AS TEXT) FROM system_settings WHERE key = %s",
            ["notifications.email_smtp_config"],
        )
        assert SECRET not in cursor.fetchone()[0]
    assert system_settings.get("notifications.email_smtp_config")["password"] == SECRET


def test_keys_rotate_without_losing_a_secret(settings):
    old_key = settings.ENCRYPTION_KEYS[0]
    ds = DatasourceFactory.create()
    new_key = Fernet.generate_key().decode()
    with override_settings(ENCRYPTION_KEYS=[new_key, old_key]):
        assert Datasource.objects.get(pk=ds.pk).connection_config["password"] == SECRET
        call_command("rotate_encryption_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with override_settings(ENCRYPTION_KEYS=[new_key]):
        assert Datasource.objects.get(pk=ds.pk).connection_config["password"] == SECRET
    with override_settings(ENCRYPTION_KEYS=[old_key]), pytest.raises(DecryptionError):
        Datasource.objects.get(pk=ds.pk)
