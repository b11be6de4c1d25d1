"""No response of any endpoint contains a stored secret."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.models import SystemSetting
from executions.models import BackupChunk
from notifications.models import Notification
from tests.factories import BackupExecutionFactory, StorageLocationFactory
from tests.support.api import DS_SECRET, PG, S3_CONFIG, S3_SECRET, SMTP, SMTP_SECRET

pytestmark = pytest.mark.django_db
SECRETS = (DS_SECRET, S3_SECRET, SMTP_SECRET)


@pytest.fixture
def everything(job):
    s3 = StorageLocationFactory.create(type="s3", config=S3_CONFIG)
    SystemSetting.objects.update_or_create(
        key="notifications.email_smtp_config", defaults={"value": SMTP}
    )
    execution = BackupExecutionFactory.create(
        job=job, status="completed", finished_at=timezone.now(), backup_path="run"
    )
    BackupChunk.objects.create(
        execution=execution, chunk_number=1, file_path="run/b", size_bytes=1, checksum="0" * 64
    )
    queued = BackupExecutionFactory.create(job=job)
    notification = Notification.objects.create(
        type="backup_failed", severity="critical", entity_type="system", title="x"
    )
    return {
        "ds": job.datasource_id,
        "s3": s3.pk,
        "job": job.pk,
        "execution": execution.pk,
        "queued": queued.pk,
        "notification": notification.pk,
    }


def test_no_get_or_post_response_contains_a_stored_secret(api, everything):
    ids = everything
    requests = [
        ("get", "/api/datasources"),
        ("get", f"/api/datasources/{ids['ds']}"),
        ("get", f"/api/datasources/{ids['ds']}/health-checks"),
        ("post", f"/api/datasources/{ids['ds']}/test-connection"),
        ("get", "/api/storage-locations"),
        ("get", f"/api/storage-locations/{ids['s3']}"),
        ("post", f"/api/storage-locations/{ids['s3']}/test-connection"),
        ("get", "/api/backup-jobs"),
        ("get", f"/api/backup-jobs/{ids['job']}"),
        ("get", f"/api/backup-jobs/{ids['job']}/retention-preview"),
        ("post", f"/api/backup-jobs/{ids['job']}/run"),
        ("get", "/api/executions"),
        ("get", f"/api/executions/{ids['execution']}"),
        ("post", f"/api/executions/{ids['queued']}/cancel"),
        ("get", "/api/notifications"),
        ("get", f"/api/notifications/{ids['notification']}"),
        ("post", f"/api/notifications/{ids['notification']}/read"),
        ("post", "/api/notifications/read-all"),
        ("get", "/api/health"),
        ("get", "/api/system/settings"),
        ("get", "/api/system/stats"),
        ("get", "/api/schema"),
    ]
    seen = 0
    for method, url in requests:
        response = getattr(api, method)(url)
        assert response.status_code < 500, url
        body = response.content.decode()
        for secret in SECRETS:
            assert secret not in body, f"{method} {url} shows a secret"
        seen += 1
    assert seen == len(requests)


def test_refused_writes_do_not_echo_the_secrets_sent(api, everything):
    failing = [
        (
            "/api/datasources",
            {
                "name": "x",
                "type": "postgres",
                "connection_config": {**PG, "port": 1, "password": DS_SECRET},
            },
        ),
        ("/api/storage-locations", {"name": "x", "type": "s3", "config": S3_CONFIG}),
    ]
    for url, body in failing:
        response = api.post(url, body, format="json")
        assert response.status_code == 400
        assert all(secret not in response.content.decode() for secret in SECRETS)
    response = api.patch(
        f"/api/storage-locations/{everything['s3']}", {"name": "renamed"}, format="json"
    )
    assert response.status_code == 200
    assert S3_SECRET not in response.content.decode()
