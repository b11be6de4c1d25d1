"""Verification of PostgreSQL backups, restored into a scratch database of the real server."""

from __future__ import annotations

from typing import Any

import pytest

from executions.models import BackupExecution
from executions.verification import verify_backup
from notifications.models import Notification
from tests.support.databases import pg_exec, scratch_databases
from tests.support.jobs import artifact_dir

pytestmark = pytest.mark.django_db


def _checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in result["checks"]}


def test_a_good_postgres_backup_passes_its_verification(backup_of, shop_connection):
    backup = backup_of("postgres", shop_connection)
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    checks = _checks(result)
    assert checks["table_count"]["detail"].startswith("2 tables restored")
    assert checks["row_count"]["detail"].startswith("2500 rows restored")


def test_the_outcome_is_recorded_on_the_backup(backup_of, shop_connection):
    backup = backup_of("postgres", shop_connection)
    verify_backup(backup)
    backup.refresh_from_db()
    recorded = backup.metadata["verification"]
    assert recorded["status"] == "passed"
    assert recorded["error"] is None
    assert recorded["restore_seconds"] > 0
    assert recorded["verified_at"]
    assert {check["name"] for check in recorded["checks"]} == {"table_count", "row_count"}
    assert backup.metadata["tables_backed_up"] == 2  # the backup's own record is kept


def test_the_scratch_database_is_dropped_after_a_passed_verification(backup_of, shop_connection):
    backup = backup_of("postgres", shop_connection)
    assert verify_backup(backup)["status"] == "passed"
    assert scratch_databases() == []


def _tampered_backup(backup_of, shop_connection, shop) -> BackupExecution:
    """A backup whose record claims more than its artifact holds.

    Editing the stored artifact would break its checksums, and the restore refuses that
    before anything is checked. Instead: back up the database with all its rows, empty a
    table and back it up again, then give the second backup the first one's recorded table
    and row figures — "the backup recorded 2500 rows but the artifact restores 500".
    """
    full = backup_of("postgres", shop_connection)
    pg_exec("TRUNCATE customers; ANALYZE", shop)
    emptied: BackupExecution = backup_of("postgres", shop_connection)
    emptied.metadata = {
        **emptied.metadata,
        "tables_backed_up": full.metadata["tables_backed_up"],
        "rows_approximate": full.metadata["rows_approximate"],
    }
    emptied.save(update_fields=["metadata"])
    return emptied


def test_a_backup_that_restores_fewer_rows_than_it_recorded_fails(backup_of, shop_connection, shop):
    backup = _tampered_backup(backup_of, shop_connection, shop)
    result = verify_backup(backup)
    assert result["status"] == "failed"
    row_count = _checks(result)["row_count"]
    assert row_count["ok"] is False
    assert row_count["detail"].startswith("500 rows restored; the backup estimated 2500")


def test_a_failed_verification_records_a_critical_notification(backup_of, shop_connection, shop):
    backup = _tampered_backup(backup_of, shop_connection, shop)
    verify_backup(backup)
    notification = Notification.objects.get(type="verification_failed", entity_id=backup.id)
    assert notification.severity == "critical"
    assert "500 rows restored" in notification.message


def test_the_scratch_database_is_dropped_after_a_failed_verification(
    backup_of, shop_connection, shop
):
    backup = _tampered_backup(backup_of, shop_connection, shop)
    assert verify_backup(backup)["status"] == "failed"
    assert scratch_databases() == []


def test_a_passed_verification_records_no_notification(backup_of, shop_connection):
    backup = backup_of("postgres", shop_connection)
    verify_backup(backup)
    assert not Notification.objects.filter(type="verification_failed").exists()


def test_a_backup_with_fewer_tables_than_it_recorded_fails(backup_of, shop_connection):
    backup = backup_of("postgres", shop_connection)
    backup.metadata = {**backup.metadata, "tables_backed_up": 3}
    backup.save(update_fields=["metadata"])
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert _checks(result)["table_count"]["detail"] == ("2 tables restored; the backup recorded 3.")


def _without_its_chunk(backup_of, shop_connection) -> BackupExecution:
    backup: BackupExecution = backup_of("postgres", shop_connection)
    chunk = backup.chunks.get()
    (artifact_dir(backup) / chunk.file_path.rsplit("/", 1)[-1]).unlink()
    return backup


def test_a_backup_that_cannot_be_restored_fails_with_the_restore_error(backup_of, shop_connection):
    backup = _without_its_chunk(backup_of, shop_connection)
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert result["checks"] == []
    assert "is missing from the storage location" in str(result["error"])


def test_the_scratch_database_is_dropped_when_the_restore_fails(backup_of, shop_connection):
    backup = _without_its_chunk(backup_of, shop_connection)
    assert verify_backup(backup)["status"] == "failed"
    assert scratch_databases() == []
