"""The public /health endpoint against the test environment's real database and broker
(PostgreSQL and Redis, or the embedded SQLite and file-system broker)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from dataguardian.celery import app as celery_app

pytestmark = pytest.mark.django_db

# A loopback port nothing listens on: connections are refused at once.
CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"


def _secret_strings() -> list[str]:
    """Everything of the configured URLs that must never appear in a public answer."""
    found: list[str] = []
    for name in ("DATABASE_URL", "REDIS_URL"):
        url = os.environ.get(name)
        if not url:
            continue
        parts = urlsplit(url)
        found.append(url)
        found.extend(p for p in (parts.hostname, parts.password, parts.netloc) if p)
    return found


def test_health_is_public_and_reports_up(client, settings):
    response = client.get("/health")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["mode"] == ("embedded" if settings.EMBEDDED else "server")
    assert body["database"]["status"] == "up"
    assert body["broker"]["status"] == "up"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_health_with_trailing_slash_answers_too(client):
    assert client.get("/health/").status_code == 200


@pytest.mark.server
def test_health_reveals_no_url_host_or_password(client):
    secrets = _secret_strings()
    assert secrets, "the test environment sets DATABASE_URL and REDIS_URL"

    text = client.get("/health").content.decode()

    for secret in secrets:
        assert secret not in text


def test_health_answers_503_when_the_broker_is_down(client, settings, monkeypatch):
    # The Celery app read its configuration once; point it (and its write URL) at the closed
    # port as well. monkeypatch restores what each read before it was patched, so the write URL
    # (derived from the broker URL) and the broker URL (read from Django's settings) are
    # patched before what they are derived from.
    monkeypatch.setattr(celery_app.conf, "broker_write_url", CLOSED_BROKER_URL)
    monkeypatch.setattr(celery_app.conf, "broker_url", CLOSED_BROKER_URL)
    settings.CELERY_BROKER_URL = CLOSED_BROKER_URL
    # The embedded mode names its transport class; the closed URL's scheme must choose Redis.
    monkeypatch.setitem(celery_app.conf, "broker_transport", None)
    settings.CELERY_BROKER_TRANSPORT = None

    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["status"] == "down"
    assert body["database"]["status"] == "up"
    text = response.content.decode()
    assert "127.0.0.1" not in text
    assert CLOSED_BROKER_URL not in text


def test_health_refuses_post(client):
    response = client.post("/health")

    assert response.status_code == 405
