"""Fixtures of the observability tests: the verification tests' small PostgreSQL database, and
a client that may read /metrics."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.verification.conftest import shop, shop_connection  # noqa: F401  (fixtures)

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def scrape(settings):
    """GET /metrics with the configured bearer token; returns the body as text."""
    settings.METRICS_TOKEN = TOKEN
    client = Client(REMOTE_ADDR="203.0.113.9")

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content[:200]
        return response.content.decode()

    return get
