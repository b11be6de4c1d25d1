"""The pages behind the actions never show a datasource's or a storage location's secret."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.models import BackupExecution
from tests.support.admin import DATASOURCE_SECRET, STORAGE_SECRET

pytestmark = pytest.mark.django_db


def test_the_wizard_and_the_delete_page_show_no_secret(admin_client, execution):
    BackupExecution.objects.filter(pk=execution.pk).update(status="completed")
    for name in ["change", "restore", "delete", "progress"]:
        url = reverse(f"admin:executions_backupexecution_{name}", args=[execution.pk])
        response = admin_client.get(url)
        assert response.status_code == 200, name
        body = response.content.decode()
        assert DATASOURCE_SECRET not in body, name
        assert STORAGE_SECRET not in body, name
