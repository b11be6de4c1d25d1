"""A run's log tail is shown: on its admin page, in the API's execution detail (not in the
list), and a verification's tail on its backup's page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution
from executions.verification import verify_backup
from tests.support.jobs import run_backup

pytestmark = pytest.mark.django_db


@pytest.fixture
def backup(make_job, source) -> BackupExecution:
    return run_backup(make_job("files", {"source_path": str(source)}))


def test_the_execution_page_shows_the_log_tail_as_a_block(admin_client, backup):
    BackupExecution.objects.filter(pk=backup.pk).update(
        log_tail=backup.log_tail + "\n<script>alert(1)</script>"
    )
    page = reverse("admin:executions_backupexecution_change", args=[backup.pk])
    html = admin_client.get(page).content.decode()

    assert "<pre id='execution-log'" in html
    assert f"Backup {backup.pk} completed" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_the_api_detail_has_the_log_tail_and_the_list_does_not(api, backup):
    detail = api.get(f"/api/executions/{backup.pk}").json()
    listed = api.get("/api/executions").json()["results"][0]

    assert detail["log_tail"] == backup.log_tail
    assert f"Backup {backup.pk} completed" in detail["log_tail"]
    assert "log_tail" not in listed


def test_a_verification_stores_its_lines_in_its_outcome(admin_client, backup):
    result = verify_backup(backup)
    backup.refresh_from_db()

    log = backup.metadata["verification"]["log"]
    assert log == result["log"]
    assert f"Verification of backup {backup.pk} started" in log
    assert f"Verification of backup {backup.pk} passed" in log
    assert backup.log_tail.count("Verification") == 0  # the backup's own tail is its own
    page = reverse("admin:executions_backupexecution_change", args=[backup.pk])
    assert "<pre id='verification-log'" in admin_client.get(page).content.decode()
