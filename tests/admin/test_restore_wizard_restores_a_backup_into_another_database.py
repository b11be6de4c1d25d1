"""The restore wizard end to end: a real PostgreSQL backup restored into a second, empty
database through the wizard's form, the restore run as a worker runs it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution
from executions.tasks import run_restore
from tests.factories import DatasourceFactory
from tests.support.databases import PG_CONNECTION, pg_table_checksums

pytestmark = pytest.mark.django_db


def test_the_wizard_restores_a_postgres_backup_into_another_database(
    admin_client, backup_of, pg_database, scratch_pg_target, django_capture_on_commit_callbacks
):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database})
    target = DatasourceFactory.create(
        name="restore target",
        type="postgres",
        connection_config={**PG_CONNECTION, "database": scratch_pg_target},
    )
    wizard = reverse("admin:executions_backupexecution_restore", args=[backup.pk])
    page = admin_client.get(wizard).content.decode()
    assert 'name="target_kind"' in page
    assert "restore target" in page

    with django_capture_on_commit_callbacks() as sent:
        response = admin_client.post(
            wizard,
            {
                "target_kind": "other",
                "target_datasource": str(target.pk),
                "confirm_name": "restore target",
            },
        )
    restore = BackupExecution.objects.get(kind="restore", source_execution=backup)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:executions_backupexecution_change", args=[restore.pk]
    )
    assert restore.datasource_id == target.pk
    assert restore.status == BackupExecution.Status.QUEUED
    assert len(sent) == 1  # the restore is sent to the workers once committed

    run_restore(str(restore.pk))  # what the worker does with the message

    restore.refresh_from_db()
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)
    page = admin_client.get(response["Location"]).content.decode()
    assert 'id="execution-status" data-status="completed"' in page.replace("'", '"')
