"""Who may read /metrics: a bearer token, basic credentials, loopback when allowed, a staff
session; everybody else gets a 403 with one plain line that echoes nothing."""

from __future__ import annotations

from base64 import b64encode

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client.exposition import CONTENT_TYPE_LATEST

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-5f0c"
REMOTE = "203.0.113.9"


def _basic(credentials: str) -> str:
    return "Basic " + b64encode(credentials.encode()).decode()


@pytest.fixture
def client() -> Client:
    return Client(REMOTE_ADDR=REMOTE)


def test_metrics_are_refused_when_no_access_is_configured(client, settings):
    settings.METRICS_TOKEN = settings.METRICS_BASIC_AUTH = ""
    settings.METRICS_ALLOW_LOOPBACK = False
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert b"not configured" in response.content
    assert response.content.count(b"\n") == 1


def test_loopback_is_refused_too_unless_allowed(settings):
    settings.METRICS_TOKEN = settings.METRICS_BASIC_AUTH = ""
    settings.METRICS_ALLOW_LOOPBACK = False
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


def test_the_bearer_token_is_accepted(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert b"dataguardian_executions" in response.content


def test_a_wrong_token_is_refused_without_being_echoed(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guessed-wrong-9")
    assert response.status_code == 403
    assert b"guessed-wrong-9" not in response.content
    assert TOKEN.encode() not in response.content


def test_a_request_without_credentials_is_refused_when_a_token_is_set(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403


def test_basic_credentials_are_accepted(client, settings):
    settings.METRICS_BASIC_AUTH = "prometheus:s3cret pass"
    response = client.get("/metrics", HTTP_AUTHORIZATION=_basic("prometheus:s3cret pass"))
    assert response.status_code == 200


def test_wrong_or_malformed_basic_credentials_are_refused(client, settings):
    settings.METRICS_BASIC_AUTH = "prometheus:s3cret pass"
    for header in (_basic("prometheus:wrong"), "Basic not*base64", _basic("prometheus")):
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert response.status_code == 403, header


def test_the_token_is_not_accepted_as_basic_credentials(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_BASIC_AUTH = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=_basic(TOKEN)).status_code == 403


def test_loopback_scrapes_are_accepted_when_allowed(settings):
    settings.METRICS_ALLOW_LOOPBACK = True
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR=REMOTE).get("/metrics").status_code == 403


def test_a_staff_session_is_accepted_and_other_users_are_not(client, settings):
    settings.METRICS_TOKEN = TOKEN
    users = get_user_model().objects
    client.force_login(users.create_user("plain", password="x"))
    assert client.get("/metrics").status_code == 403
    client.force_login(users.create_user("staff", password="x", is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_the_path_answers_with_and_without_a_slash_and_never_redirects_to_a_login(client, settings):
    settings.METRICS_TOKEN = TOKEN
    for path in ("/metrics", "/metrics/"):
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, path
    assert client.get("/metrics/").status_code == 403


def test_a_scrape_needs_no_csrf_token(settings):
    settings.METRICS_TOKEN = TOKEN
    strict = Client(enforce_csrf_checks=True, REMOTE_ADDR=REMOTE)
    assert strict.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert strict.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code in (403, 405)
