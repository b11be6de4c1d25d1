"""The backup's stored manifest.json, loaded by its page after the page itself, as a table."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.support.jobs import artifact_dir

pytestmark = pytest.mark.django_db


def test_the_page_loads_the_manifest_as_a_table(admin_client, files_backup):
    page = reverse("admin:executions_backupexecution_change", args=[files_backup.pk])
    url = reverse("admin:executions_backupexecution_manifest", args=[files_backup.pk])
    assert f"data-url='{url}'" in admin_client.get(page).content.decode()
    html = admin_client.get(url).content.decode()
    assert "<table" in html
    assert files_backup.metadata["checksum"] in html
    assert f"<td>{files_backup.chunks.count()}</td>" in html  # the number of chunks
    assert "files" in html  # the engine


def test_a_missing_manifest_is_said_to_be_unreadable(admin_client, files_backup):
    (artifact_dir(files_backup) / "manifest.json").unlink()
    url = reverse("admin:executions_backupexecution_manifest", args=[files_backup.pk])
    assert "could not be read" in admin_client.get(url).content.decode()
