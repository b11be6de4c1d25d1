"""The execution page shows its live status and only the actions that apply to it."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ACTIONS = ["action-restore", "action-verify", "action-download", "action-cancel", "action-delete"]


def _shown(admin_client, execution) -> set[str]:
    url = reverse("admin:executions_backupexecution_change", args=[execution.pk])
    html = admin_client.get(url).content.decode()
    assert f"id='execution-status' data-status='{execution.status}'" in html
    assert "id='execution-progress'" in html
    return {action for action in ACTIONS if f'id="{action}"' in html}


def test_a_completed_backup_can_be_restored_verified_downloaded_and_deleted(
    admin_client, completed_backup
):
    assert _shown(admin_client, completed_backup) == {
        "action-restore",
        "action-verify",
        "action-download",
        "action-delete",
    }


def test_a_queued_execution_can_only_be_cancelled(admin_client, execution):
    assert _shown(admin_client, execution) == {"action-cancel"}
