"""``verification.postgres_server``: the server verified backups are restored into."""

from __future__ import annotations

import pytest
from django.db import connection

from core.models import SystemSetting
from executions.models import BackupExecution
from executions.verification import verify_backup
from tests.support.databases import scratch_databases

pytestmark = pytest.mark.django_db
SERVER_SECRET = "verify-Secret-5c2e81"


def _with_an_unusable_login(backup: BackupExecution) -> BackupExecution:
    """The backup's datasource now names a role that does not exist: only the setting's
    server can take the scratch database."""
    datasource = backup.datasource
    datasource.connection_config = {**datasource.connection_config, "username": "dg_no_such_role"}
    datasource.save(update_fields=["connection_config"])
    backup.refresh_from_db()
    return backup


def test_the_setting_overrides_the_backups_own_server(backup_of, shop_connection):
    backup = _with_an_unusable_login(backup_of("postgres", shop_connection))
    SystemSetting.objects.update_or_create(
        key="verification.postgres_server",
        defaults={"value": {"host": "127.0.0.1", "port": 5432, "username": "postgres"}},
    )
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    assert scratch_databases() == []


def test_without_the_setting_the_backups_own_server_and_login_are_used(backup_of, shop_connection):
    backup = _with_an_unusable_login(backup_of("postgres", shop_connection))
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert "dg_no_such_role" in str(result["error"])


def test_the_verification_servers_password_is_encrypted_at_rest(db):
    SystemSetting.objects.update_or_create(
        key="verification.postgres_server",
        defaults={
            "value": {"host": "127.0.0.1", "username": "postgres", "password": SERVER_SECRET}
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(value AS TEXT) FROM system_settings"
            " WHERE key = 'verification.postgres_server'"
        )
        (stored,) = cursor.fetchone()
    assert SERVER_SECRET not in stored
    setting = SystemSetting.objects.get(key="verification.postgres_server")
    assert setting.value["password"] == SERVER_SECRET
