"""The dashboard's query count does not grow with the number of executions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.support.many_executions import insert_executions

MAX_QUERIES = 20


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return len(queries)


@pytest.mark.server
def test_the_dashboard_takes_the_same_queries_with_0_or_100000_executions(admin_client):
    jobs = factories.BackupJobFactory.create_batch(3)
    _queries(admin_client)  # warm the caches
    empty = _queries(admin_client)
    insert_executions(jobs[0], 100_000)
    insert_executions(jobs[1], 1_000)
    full = _queries(admin_client)
    assert full == empty <= MAX_QUERIES
