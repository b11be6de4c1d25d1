"""Fault: the worker verifying a backup dies (killed, out of memory). Its marker stays
"running" with a beat that stopped; the reaper sends the verification again once, and records
it as failed, telling the operator, when it is lost on its second try too."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from executions import verification
from executions.scheduler import STALE_RUNNING_AFTER, VERIFY_ATTEMPTS
from executions.tasks import reap_and_resend
from notifications.models import Notification, NotificationType

pytestmark = pytest.mark.django_db


@pytest.fixture
def files_backup(backup_of, tmp_path: Path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "orders.csv").write_text("1,42\n" * 200)
    return backup_of("files", {"source_path": str(source)})


def _killed_while_verifying(backup, at):
    verification.mark_running(backup, "celery@killed", at=at)


def test_a_running_verification_whose_beat_stopped_is_sent_again_then_failed_on_the_last_try(
    files_backup, broker, django_capture_on_commit_callbacks
):
    started = timezone.now()
    _killed_while_verifying(files_backup, started)
    assert VERIFY_ATTEMPTS == 2

    reap_and_resend(now=started + STALE_RUNNING_AFTER - timedelta(seconds=5))
    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["status"] == "running"  # still beating

    later = started + STALE_RUNNING_AFTER + timedelta(seconds=5)
    with django_capture_on_commit_callbacks(execute=True):
        result = reap_and_resend(now=later)
    files_backup.refresh_from_db()
    marker = files_backup.metadata["verification"]
    assert result.reverified == 1
    assert (marker["status"], marker["attempt"], marker["queued_at"]) == (
        "queued",
        1,
        later.isoformat(),
    )
    assert "celery@killed" in marker["lost"]
    sent = [args for _, args in broker.tasks("backups:5")]
    assert sent == [[str(files_backup.pk), later.isoformat()]]

    _killed_while_verifying(files_backup, later)  # its second try dies too
    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["attempt"] == 2
    reap_and_resend(now=later + STALE_RUNNING_AFTER + timedelta(seconds=5))

    files_backup.refresh_from_db()
    outcome = files_backup.metadata["verification"]
    assert outcome["status"] == "failed"
    assert "lost 2 time(s)" in outcome["error"]
    told = Notification.objects.get(
        type=NotificationType.VERIFICATION_FAILED, entity_id=files_backup.pk
    )
    assert "lost 2 time(s)" in told.message


@pytest.mark.django_db(transaction=True)  # the beat writes from a thread of its own
def test_a_beating_verification_renews_its_marker(files_backup):
    _killed_while_verifying(files_backup, timezone.now() - timedelta(minutes=10))
    files_backup.refresh_from_db()
    before = files_backup.metadata["verification"]["beat_at"]

    with verification.beating(files_backup, interval=0.05):
        time.sleep(0.3)

    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["beat_at"] > before
    reap_and_resend(now=timezone.now() + timedelta(seconds=30))
    files_backup.refresh_from_db()
    assert files_backup.metadata["verification"]["status"] == "running"
