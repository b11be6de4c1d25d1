"""The big lists (executions, chunks, health checks, notifications, deliveries) never count a
whole table: exactly up to 10,000 rows, then "10,000+" (or, unfiltered on PostgreSQL, the
planner's estimate)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from core.paginator import CAP, CappedPaginator
from datasources.models import HealthCheck
from executions.models import BackupChunk, BackupExecution
from notifications.models import Delivery, Notification
from tests import factories
from tests.support.many_executions import insert_executions

LIST = reverse("admin:executions_backupexecution_changelist")


@pytest.mark.parametrize(
    "model", [BackupExecution, BackupChunk, HealthCheck, Notification, Delivery]
)
def test_every_big_list_uses_the_capped_paginator_without_a_full_count(model):
    model_admin = admin.site._registry[model]
    assert model_admin.paginator is CappedPaginator
    assert model_admin.show_full_result_count is False


def test_a_short_list_is_counted_exactly(admin_client):
    job = factories.BackupJobFactory.create()
    insert_executions(job, 12)
    page = admin_client.get(LIST).content.decode()
    assert "12\n" in page.split('id="result-count"')[1][:400]


def test_a_filtered_list_past_the_cap_shows_10000_plus(admin_client):
    job = factories.BackupJobFactory.create()
    insert_executions(job, CAP + 2_000)
    response = admin_client.get(LIST, {"kind__exact": "backup"})
    count = response.content.decode().split('id="result-count"')[1][:400]
    assert response.status_code == 200
    assert "10,000+" in count


@pytest.mark.server
def test_an_unfiltered_list_past_the_cap_on_postgresql_shows_the_estimate(admin_client):
    job = factories.BackupJobFactory.create()
    insert_executions(job, CAP + 2_000)  # analyses the table, as autovacuum would
    count = admin_client.get(LIST).content.decode().split('id="result-count"')[1][:400]
    assert "about 12,00" in count


def test_a_filtered_list_pages_through_the_counted_rows_only(admin_client):
    job = factories.BackupJobFactory.create()
    insert_executions(job, CAP + 500)
    # 50 rows a page: page 200 holds rows 9,951 to 10,000, the last ones counted.
    last = admin_client.get(LIST, {"kind__exact": "backup", "p": 200})
    past = admin_client.get(LIST, {"kind__exact": "backup", "p": 201})
    assert last.status_code == 200
    assert past.status_code == 302
    assert "e=1" in past["Location"]
