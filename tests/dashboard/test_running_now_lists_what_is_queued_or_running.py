"""The "running now" panel lists queued and running executions with their progress, and
polls its staff-only endpoint only while it lists anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from executions.dashboard import running_now
from tests import factories


@pytest.fixture
def running(db):
    now = timezone.now()
    job = factories.BackupJobFactory.create(name="orders nightly")
    return factories.BackupExecutionFactory.create(
        job=job,
        status="running",
        started_at=now - timedelta(seconds=125),
        progress={"phase": "dump", "bytes_in": 4096, "bytes_out": 2048},
    )


def test_running_and_queued_executions_are_listed_with_their_progress(running):
    job = running.job
    queued = factories.BackupExecutionFactory.create(job=job, status="queued")
    factories.BackupExecutionFactory.create(job=job, status="completed")
    items = {item.execution.pk: item for item in running_now(timezone.now())}
    assert set(items) == {running.pk, queued.pk}
    assert items[running.pk].phase == "dump"
    assert items[running.pk].done == "2.0 KiB"
    assert items[running.pk].elapsed == "2 min 5 s"


def test_a_restore_shows_bytes_read_of_the_total(running):
    restore = factories.BackupExecutionFactory.create(
        job=running.job,
        kind="restore",
        status="running",
        progress={"phase": "restore", "bytes_done": 1024, "bytes_total": 4096},
    )
    items = {item.execution.pk: item for item in running_now(timezone.now())}
    assert items[restore.pk].done == "1.0 KiB of 4.0 KiB"


def test_the_endpoint_returns_the_panel_to_staff(admin_client, running):
    response = admin_client.get(reverse("dashboard-running-now"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="running-now"' in page
    assert "orders nightly" in page
    assert "dump" in page
    assert 'hx-trigger="every 2s"' in page  # keeps polling while something runs


def test_an_empty_panel_stops_polling(admin_client, db):
    page = admin_client.get(reverse("dashboard-running-now")).content.decode()
    assert 'data-count="0"' in page
    assert "hx-trigger" not in page
    assert "Nothing is queued or running." in page


def test_the_dashboard_polls_only_while_something_runs(admin_client, running):
    page = admin_client.get("/admin/").content.decode()
    assert f'hx-get="{reverse("dashboard-running-now")}"' in page
    running.cancel()
    page = admin_client.get("/admin/").content.decode()
    assert 'id="running-now" data-count="0"' in page
    assert reverse("dashboard-running-now") not in page


def test_an_anonymous_request_is_sent_to_the_login_page(client, running):
    response = client.get(reverse("dashboard-running-now"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert "orders nightly" not in response.content.decode()


def test_a_user_who_is_not_staff_is_refused(client, running):
    user = get_user_model().objects.create_user("viewer", password="pw-for-tests-only")
    client.force_login(user)
    response = client.get(reverse("dashboard-running-now"))
    assert response.status_code == 302
    assert "orders nightly" not in response.content.decode()
