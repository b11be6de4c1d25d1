"""Channels that never answer do not slow a backup down: delivery runs on the notifications
worker, after the backup's transaction, never in the backup's own path. Measured."""

from __future__ import annotations

import sqlite3
import time

import pytest

from notifications.models import Delivery
from tests.support.jobs import run_backup
from tests.support.loopback import http_receiver

pytestmark = pytest.mark.django_db(transaction=True)


def _sqlite_job(make_job, tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 100,) for _ in range(5000)])
    conn.commit()
    conn.close()
    return make_job("sqlite", {"file_path": str(path)})


def _timed_backup(job) -> float:
    started = time.monotonic()
    execution = run_backup(job)
    assert execution.status == "completed"
    return time.monotonic() - started


def test_three_channels_that_never_answer_leave_the_backup_time_unchanged(
    notifications_worker, webhook_channel, make_job, tmp_path, settings
):
    settings.NOTIFICATION_TIMEOUT = 5.0
    job = _sqlite_job(make_job, tmp_path)
    reference = min(_timed_backup(job) for _ in range(2))
    with http_receiver([None]) as silent:
        for n in range(3):
            # Every success goes out, so each backup below sends to all three.
            webhook_channel(silent.url(), name=f"silent {n}", min_severity="info",
                            event_types=["backup_success"])  # fmt: skip
        with_silent_channels = min(_timed_backup(job) for _ in range(2))
        requests = silent.wait_for(3, timeout=20)
        assert len(requests) >= 3  # the deliveries really were attempted, concurrently
        deadline = time.monotonic() + 30
        while Delivery.objects.filter(status="retrying").count() < 3:
            assert time.monotonic() < deadline, "the attempts never timed out"
            time.sleep(0.2)
        # Read while the receiver still holds its connections open: these timed out.
        timed_out = list(Delivery.objects.filter(status="retrying"))
    print(f"backup alone {reference:.3f} s, with 3 silent channels {with_silent_channels:.3f} s")
    assert with_silent_channels < reference + 1.0
    assert with_silent_channels < settings.NOTIFICATION_TIMEOUT
    assert all(d.latency_ms >= 4500 for d in timed_out), [d.error for d in timed_out]
