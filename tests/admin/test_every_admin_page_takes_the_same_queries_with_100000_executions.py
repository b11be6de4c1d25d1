"""Every admin list and change page, and the dashboard, answer with the same small number of
SQL queries whether ``backup_executions`` holds a handful of rows, 20,000 or 100,000."""

from __future__ import annotations

import time

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from rest_framework.authtoken.models import Token

from core.models import SystemSetting
from datasources.models import HealthCheck
from executions.models import BackupChunk
from notifications.models import Delivery, Notification, NotificationChannel
from tests import factories
from tests.support.many_executions import insert_executions

#: No page may take more queries than this (session, user, sidebar badge, the page's own).
MAX_QUERIES = 40
ROWS = 100_000


def _one_of_everything(admin_user):
    job = factories.BackupJobFactory.create()
    execution = factories.BackupExecutionFactory.create(job=job, status="completed")
    BackupChunk.objects.create(
        execution=execution, chunk_number=0, file_path="a/0", size_bytes=1, checksum="0" * 64
    )
    HealthCheck.objects.create(datasource=job.datasource, status="ok", latency_ms=3)
    notification = Notification.objects.create(
        type="backup_failed", severity="critical", entity_type="system", title="Backup failed"
    )
    channel = NotificationChannel.objects.create(
        name="hook", type="webhook", config={"url": "http://127.0.0.1:9/", "secret": ""}
    )
    Delivery.objects.create(notification=notification, channel=channel, status="failed")
    SystemSetting.objects.get_or_create(key="system.max_concurrent_backups", defaults={"value": 2})
    Group.objects.create(name="operators")
    Token.objects.create(user=admin_user)
    interval = IntervalSchedule.objects.create(every=5, period="minutes")
    CrontabSchedule.objects.create(minute="0", hour="3")
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    SolarSchedule.objects.create(event="sunrise", latitude=52.5, longitude=13.4)
    PeriodicTask.objects.get_or_create(
        name="dashboard test", defaults={"task": "noop", "interval": interval}
    )
    return job


def _pages() -> list[str]:
    """The dashboard, then each registered model's list and the change page of its first
    object."""
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        obj = model._default_manager.first()
        if obj is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    return pages


def _queries_per_page(client, pages: list[str]) -> dict[str, int]:
    counts = {}
    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        assert response.status_code == 200, page
        counts[page] = len(queries)
    return counts


def test_every_admin_page_answers_on_an_empty_database(admin_client):
    for page in _pages():
        assert admin_client.get(page).status_code == 200, page


@pytest.mark.server
def test_every_admin_page_takes_the_same_queries_with_100000_executions(admin_client, admin_user):
    job = _one_of_everything(admin_user)
    pages = _pages()
    assert len(pages) > 2 * len(admin.site._registry)  # change pages were found, too
    _queries_per_page(admin_client, pages)  # warm the caches (content types) first
    few = _queries_per_page(admin_client, pages)

    started = time.monotonic()
    insert_executions(job, ROWS // 5)
    past_the_cap = _queries_per_page(admin_client, pages)
    insert_executions(job, ROWS - ROWS // 5)
    many = _queries_per_page(admin_client, pages)
    assert time.monotonic() - started < 60

    # Past its cap the capped paginator asks PostgreSQL for its row estimate: one query more
    # on the big lists, then no more however many rows there are.
    assert many == past_the_cap
    assert all(many[page] - few[page] in (0, 1) for page in pages), (few, many)
    assert max(many.values()) <= MAX_QUERIES, many
