"""A real failed backup's notification names the job, datasource and storage, when and how
long, the error, and links to the run; no secret appears in it or in what is sent."""

from __future__ import annotations

import json
import socket

import pytest

from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import back_up
from notifications.delivery import build_message, deliver
from notifications.models import Notification

pytestmark = pytest.mark.django_db

PASSWORD = "pg-pass-Zq81-never-shown"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def failed_backup(make_job) -> BackupExecution:
    job = make_job("postgres", {"host": "127.0.0.1", "port": _closed_port(), "database": "shop",
                                "username": "postgres", "password": PASSWORD})  # fmt: skip
    execution = create_backup_execution(job)
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=execution.pk
    )
    execution.claim(worker="test")
    assert not back_up(execution)
    execution.refresh_from_db()
    return execution


def test_the_failure_notification_describes_the_run(failed_backup, settings):
    notification = Notification.objects.get(type="backup_failed")
    details = notification.metadata
    assert details["job"]["name"] == failed_backup.job.name
    assert details["datasource"]["id"] == str(failed_backup.datasource_id)
    assert details["storage_location"]["name"] == failed_backup.storage_location.name
    run = details["execution"]
    assert run["id"] == str(failed_backup.id)
    assert run["status"] == "failed"
    assert run["error"] == failed_backup.error_message
    assert run["url"] == (
        f"{settings.PUBLIC_URL}/admin/executions/backupexecution/{failed_backup.id}/change/"
    )
    text = build_message(notification).text
    for label in ("Job:", "Datasource:", "Storage:", "Started:", "Error:", "Link:"):
        assert label in text


def test_no_secret_reaches_the_notification_or_the_receiver(failed_backup, webhook_channel,
                                                            receiver):  # fmt: skip
    notification = Notification.objects.get(type="backup_failed")
    message = build_message(notification)
    channel = webhook_channel(receiver.url())
    assert deliver(notification, channel, attempt=1, can_retry=False).status == "sent"
    sent = receiver.wait_for(1)[0]
    for text in (
        json.dumps(notification.metadata),
        notification.message,
        message.text,
        json.dumps(message.payload),
        sent.body.decode(),
    ):
        assert PASSWORD not in text
    assert json.loads(sent.body)["details"]["execution"]["id"] == str(failed_backup.id)
