"""The last 24 hours' executions are counted per status, each count a link to that list."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from executions.dashboard import executions_last_24h
from tests import factories


def _counts(now):
    return {item.status: item for item in executions_last_24h(now)}


def test_each_status_is_counted_and_older_executions_are_not(db):
    now = timezone.now()
    job = factories.BackupJobFactory.create()
    for status, age in [
        ("completed", 1),
        ("completed", 23),
        ("failed", 2),
        ("running", 0),
        ("failed", 25),  # older than a day
    ]:
        factories.BackupExecutionFactory.create(
            job=job, status=status, created_at=now - timedelta(hours=age)
        )
    counts = _counts(now)
    assert {s: c.count for s, c in counts.items()} == {
        "queued": 0,
        "running": 1,
        "completed": 2,
        "failed": 1,
        "cancelled": 0,
    }


def test_a_count_links_to_the_executions_it_counts(admin_client):
    now = timezone.now()
    job = factories.BackupJobFactory.create()
    recent = factories.BackupExecutionFactory.create(
        job=job, status="failed", created_at=now - timedelta(hours=2)
    )
    old = factories.BackupExecutionFactory.create(
        job=job, status="failed", created_at=now - timedelta(hours=30)
    )
    done = factories.BackupExecutionFactory.create(job=job, status="completed", created_at=now)
    url = _counts(now)["failed"].url

    response = admin_client.get(url)
    page = response.content.decode()

    assert response.status_code == 200
    assert "status__exact=failed" in url
    assert "created_at__gte=" in url
    assert str(recent.pk) in page
    assert str(old.pk) not in page
    assert str(done.pk) not in page


def test_the_dashboard_links_every_status(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'id="executions-24h"' in page
    for status in ["queued", "running", "completed", "failed", "cancelled"]:
        assert f'data-status="{status}"' in page
