"""Restores of PostgreSQL and MariaDB backups into other databases of the real local servers."""

from __future__ import annotations

import json
import secrets

import pytest

from executions.models import BackupExecution
from executions.restore import perform_restore, restore_execution
from notifications.models import Notification
from tests.support.databases import PG_CONNECTION, mysql_exec, pg_exec, pg_table_checksums
from tests.support.jobs import artifact_dir, rewrite_manifest

pytestmark = pytest.mark.django_db


def _restore(backup, target, **options) -> BackupExecution:
    execution = restore_execution(backup, target_datasource=target, options=options, confirm=True)
    perform_restore(execution)
    execution.refresh_from_db()
    return execution


def test_a_postgres_backup_restores_into_another_database(
    backup_of, datasource_of, pg_database, scratch_pg_target
):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database})
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore(backup, target)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)


def test_a_restore_is_recorded_as_a_restore_execution_of_its_backup(
    backup_of, datasource_of, pg_database, scratch_pg_target
):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database})
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore(backup, target)
    assert restore.kind == BackupExecution.Kind.RESTORE
    assert restore.source_execution_id == backup.id
    assert restore.datasource_id == target.id
    assert restore.storage_location_id == backup.storage_location_id
    assert restore.duration_seconds is not None
    assert restore.progress["phase"] == "done"
    assert restore.progress["bytes_done"] == backup.compressed_size_bytes
    assert Notification.objects.filter(
        type="restore_completed", severity="info", entity_id=restore.id
    ).exists()


def test_clean_restores_a_mutated_database_to_the_backed_up_state(backup_of, pg_database):
    before = pg_table_checksums(pg_database)
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database})
    pg_exec("DELETE FROM orders WHERE id % 2 = 0; UPDATE customers SET name = 'x'", pg_database)
    pg_exec("CREATE TABLE added_later (id int)", pg_database)
    assert pg_table_checksums(pg_database) != before
    restore = _restore(backup, backup.datasource, clean=True)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    after = pg_table_checksums(pg_database)
    after.pop("added_later")  # --clean drops what the dump holds, not what came later
    assert after == before


def test_a_chunked_postgres_backup_restores(
    backup_of, datasource_of, pg_database, scratch_pg_target
):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database}, max_file_size_mb=1)
    assert backup.chunks.count() >= 2
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore(backup, target)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)


def test_a_parallel_postgres_backup_restores_with_parallel_jobs(
    backup_of, datasource_of, pg_database, scratch_pg_target
):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database}, parallel_jobs=2)
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore(backup, target, jobs=2)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)


def test_a_dump_of_a_newer_postgres_major_is_refused_before_anything_runs(
    backup_of, datasource_of, pg_database, scratch_pg_target
):
    # No newer server runs here: the manifest is edited to claim one.
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database})
    manifest = json.loads((artifact_dir(backup) / "manifest.json").read_text())
    manifest["engine"]["database_version"] = "PostgreSQL 99.1"
    rewrite_manifest(backup, json.dumps(manifest))
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore(backup, target)
    assert restore.status == BackupExecution.Status.FAILED
    assert "PostgreSQL 99.1" in str(restore.error_message)
    assert "older major version" in str(restore.error_message)
    assert pg_table_checksums(scratch_pg_target) == {}


@pytest.fixture
def mysql_source():
    name = f"dgtest_restore_my_{secrets.token_hex(4)}"
    mysql_exec(
        f"CREATE DATABASE {name}; USE {name}; "
        "CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64), b BLOB); "
        "INSERT INTO t (v, b) SELECT CONCAT('row ', seq), UNHEX(MD5(seq)) FROM seq_1_to_3000;"
    )
    yield name
    mysql_exec(f"DROP DATABASE IF EXISTS {name}; DROP DATABASE IF EXISTS {name}_copy;")


def test_a_mariadb_backup_restores_into_another_schema(backup_of, datasource_of, mysql_source):
    connection = {"host": "127.0.0.1", "port": 3306, "username": "root", "password": ""}
    backup = backup_of("mysql", {**connection, "database": mysql_source})
    target = datasource_of("mysql", {**connection, "database": f"{mysql_source}_copy"})
    restore = _restore(backup, target, create_database=True)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    checksum = "CHECKSUM TABLE {}.t"
    source_sum = mysql_exec(checksum.format(mysql_source)).split()[-1]
    copy_sum = mysql_exec(checksum.format(f"{mysql_source}_copy")).split()[-1]
    assert source_sum == copy_sum
    assert mysql_exec(f"SELECT count(*) FROM {mysql_source}_copy.t").strip() == "3000"
