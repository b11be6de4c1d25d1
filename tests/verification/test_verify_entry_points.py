"""Ways a verification starts: the API action, the command, and ``verify_after_backup``."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from executions.tasks import verify_backup as verify_task
from tests.support.databases import scratch_databases

pytestmark = pytest.mark.django_db


def _verify_messages(broker, key: str) -> list[str]:
    """The backup ids of the ``verify_backup`` messages waiting in queue ``key``."""
    return [args[0] for task, args in broker.tasks(key) if task == "executions.tasks.verify_backup"]


def test_the_api_action_answers_202_with_a_queued_marker(
    api, backup_of, shop_connection, broker, django_capture_on_commit_callbacks
):
    backup = backup_of("postgres", shop_connection)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/executions/{backup.pk}/verify")
    assert response.status_code == 202, response.data
    assert response.data["metadata"]["verification"]["status"] == "queued"
    assert _verify_messages(broker, "backups") == [str(backup.pk)]


def test_the_task_the_api_queued_records_the_outcome(
    api, backup_of, shop_connection, broker, django_capture_on_commit_callbacks
):
    backup = backup_of("postgres", shop_connection)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/executions/{backup.pk}/verify")
    verify_task(_verify_messages(broker, "backups")[0])
    backup.refresh_from_db()
    assert backup.metadata["verification"]["status"] == "passed"
    assert scratch_databases() == []


def test_the_api_refuses_to_verify_a_failed_backup(api, backup_of, shop_connection):
    backup = backup_of("postgres", shop_connection)
    backup.status = "failed"
    backup.save(update_fields=["status"])
    response = api.post(f"/api/executions/{backup.pk}/verify")
    assert response.status_code == 400
    assert "completed backups" in response.data["detail"]


def test_verify_after_backup_queues_a_verification_when_the_backup_commits(
    backup_of, shop_connection, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        backup = backup_of("postgres", shop_connection, verify_after_backup=True)
    assert _verify_messages(broker, "backups:5") == [str(backup.pk)]


def test_a_backup_without_verify_after_backup_queues_no_verification(
    backup_of, shop_connection, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        backup_of("postgres", shop_connection)
    assert _verify_messages(broker, "backups:5") == []


def test_the_command_verifies_the_latest_backup_of_a_job_by_name(
    backup_of, shop_connection, capsys
):
    backup = backup_of("postgres", shop_connection)
    call_command("verify", backup.job.name)
    out = capsys.readouterr().out
    assert f"verification of backup {backup.pk} passed" in out
    assert "ok   row_count: 2500 rows restored" in out


def test_the_command_exits_non_zero_when_the_verification_fails(backup_of, shop_connection, capsys):
    backup = backup_of(
        "postgres",
        shop_connection,
        verification_assertions=["SELECT count(*) > 1000000 FROM customers"],
    )
    with pytest.raises(CommandError, match="failed"):
        call_command("verify", str(backup.pk))
    assert "FAIL assertion_1" in capsys.readouterr().out
