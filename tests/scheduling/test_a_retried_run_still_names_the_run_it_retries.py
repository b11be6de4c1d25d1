"""Fault: a run lost with its worker is retried by the reaper, and the retry, once it has
completed, still names the run it retries (``metadata.retry_of``, docs/SCHEDULING.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executions.models import BackupExecution
from executions.scheduler import STALE_RUNNING_AFTER
from executions.services import create_backup_execution
from executions.tasks import back_up, reap_and_resend

pytestmark = pytest.mark.django_db


def test_a_completed_retry_keeps_retry_of_beside_what_the_run_recorded(make_job, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "orders.csv").write_text("1,42\n" * 100)
    job = make_job("files", {"source_path": str(source)})
    lost = create_backup_execution(job)
    lost.claim(worker="celery@gone")
    assert lost.heartbeat_at is not None

    reap_and_resend(now=lost.heartbeat_at + STALE_RUNNING_AFTER + timedelta(seconds=1))
    retry = BackupExecution.objects.get(metadata__retry_of=str(lost.pk))
    retry.claim(worker="celery@here")
    assert back_up(retry), retry.error_message

    retry.refresh_from_db()
    assert retry.status == BackupExecution.Status.COMPLETED
    assert retry.metadata["retry_of"] == str(lost.pk)
    assert retry.metadata["checksum"]
    assert retry.metadata["manifest"]
