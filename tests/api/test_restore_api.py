"""POST /api/executions/{id}/restore: a real backup restored into another database."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from executions.backup import perform_backup
from executions.models import BackupExecution
from executions.restore import perform_restore
from tests.factories import BackupJobFactory, DatasourceFactory
from tests.support.api import PG

pytestmark = pytest.mark.django_db
DSN = "host=127.0.0.1 port=5432 user=postgres dbname={}"


def _rows(dbname: str) -> list[tuple[object, ...]]:
    with psycopg.connect(DSN.format(dbname)) as conn:
        return conn.execute("SELECT id, v FROM t ORDER BY id").fetchall()


@pytest.fixture
def target_database():
    name = f"dgtest_api_target_{secrets.token_hex(4)}"
    with psycopg.connect(DSN.format("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect(DSN.format("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def backup(pg_database, location):
    source = DatasourceFactory.create(connection_config={**PG, "database": pg_database})
    job = BackupJobFactory.create(datasource=source, storage_location=location)
    execution = BackupExecution.objects.create(
        job=job, datasource=source, storage_location=location
    )
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=execution.pk
    )
    execution.claim(worker="test")
    assert perform_backup(execution), execution.error_message
    return execution


def test_a_backup_restored_through_the_api_into_another_database_has_the_same_rows(
    api, backup, pg_database, target_database
):
    target = DatasourceFactory.create(connection_config={**PG, "database": target_database})
    response = api.post(
        f"/api/executions/{backup.pk}/restore",
        {"target_datasource_id": str(target.pk), "confirm": True, "options": {"no_owner": True}},
        format="json",
    )
    assert response.status_code == 202, response.data
    assert response.data["kind"] == "restore"
    restore = BackupExecution.objects.select_related(
        "job", "datasource", "storage_location", "source_execution"
    ).get(pk=response.data["id"])
    assert restore.source_execution_id == backup.pk
    assert perform_restore(restore), restore.error_message
    assert _rows(target_database) == _rows(pg_database)


def test_a_restore_over_data_without_confirm_is_refused_and_creates_nothing(api, backup):
    response = api.post(f"/api/executions/{backup.pk}/restore", {}, format="json")
    assert response.status_code == 400
    assert "confirm" in str(response.data).lower()
    assert not BackupExecution.objects.filter(kind=BackupExecution.Kind.RESTORE).exists()


def test_an_unknown_restore_option_is_a_field_error(api, backup):
    response = api.post(
        f"/api/executions/{backup.pk}/restore",
        {"confirm": True, "options": {"drop_everything": True}},
        format="json",
    )
    assert response.status_code == 400
    assert "drop_everything" in response.data["options"]


def test_deleting_a_finished_restore_keeps_the_backup_it_came_from(
    api, backup, target_database, storage_dir
):
    target = DatasourceFactory.create(connection_config={**PG, "database": target_database})
    response = api.post(
        f"/api/executions/{backup.pk}/restore",
        {"target_datasource_id": str(target.pk), "confirm": True},
        format="json",
    )
    restore = BackupExecution.objects.get(pk=response.data["id"])
    assert perform_restore(restore), restore.error_message
    files_before = sorted(p.name for p in (storage_dir / backup.backup_path).iterdir())
    deleted = api.delete(f"/api/executions/{restore.pk}?confirm=true")
    assert deleted.status_code == 204
    assert sorted(p.name for p in (storage_dir / backup.backup_path).iterdir()) == files_before
    assert "manifest.json" in files_before
