"""List endpoints run the same number of queries whatever the page size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.models import BackupChunk, BackupExecution
from notifications.models import Notification
from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db


def _queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured)


def _fill(job, count: int) -> None:
    executions = BackupExecution.objects.bulk_create(
        BackupExecution(job=job, datasource=job.datasource, storage_location=job.storage_location)
        for _ in range(count)
    )
    BackupChunk.objects.bulk_create(
        BackupChunk(execution=e, chunk_number=n, file_path=f"p{n}", size_bytes=1, checksum="0")
        for e in executions
        for n in (1, 2)
    )
    Notification.objects.bulk_create(
        Notification(type="backup_failed", severity="info", entity_type="system", title="t")
        for _ in range(count)
    )
    for _ in range(count):
        BackupJobFactory.create(
            datasource=DatasourceFactory.create(), storage_location=StorageLocationFactory.create()
        )


@pytest.mark.parametrize(
    "url",
    [
        "/api/executions",
        "/api/datasources",
        "/api/storage-locations",
        "/api/backup-jobs",
        "/api/notifications",
    ],
)
def test_a_list_costs_the_same_queries_for_5_and_50_items(api, job, url):
    _fill(job, 5)
    small = _queries(api, f"{url}?page_size=500")
    _fill(job, 45)
    large = _queries(api, f"{url}?page_size=500")
    assert api.get(f"{url}?page_size=500").data["count"] >= 50
    assert small == large
