"""Every /api endpoint needs a login; a token is obtained with the username and password."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ID = uuid.uuid4()
ENDPOINTS = [
    ("get", "/api/datasources"),
    ("post", "/api/datasources"),
    ("get", f"/api/datasources/{ID}"),
    ("put", f"/api/datasources/{ID}"),
    ("patch", f"/api/datasources/{ID}"),
    ("delete", f"/api/datasources/{ID}"),
    ("post", f"/api/datasources/{ID}/test-connection"),
    ("get", f"/api/datasources/{ID}/health-checks"),
    ("get", "/api/storage-locations"),
    ("post", "/api/storage-locations"),
    ("get", f"/api/storage-locations/{ID}"),
    ("put", f"/api/storage-locations/{ID}"),
    ("patch", f"/api/storage-locations/{ID}"),
    ("delete", f"/api/storage-locations/{ID}"),
    ("post", f"/api/storage-locations/{ID}/test-connection"),
    ("get", "/api/backup-jobs"),
    ("post", "/api/backup-jobs"),
    ("get", f"/api/backup-jobs/{ID}"),
    ("put", f"/api/backup-jobs/{ID}"),
    ("patch", f"/api/backup-jobs/{ID}"),
    ("delete", f"/api/backup-jobs/{ID}"),
    ("post", f"/api/backup-jobs/{ID}/run"),
    ("get", f"/api/backup-jobs/{ID}/retention-preview"),
    ("get", "/api/executions"),
    ("get", f"/api/executions/{ID}"),
    ("delete", f"/api/executions/{ID}"),
    ("post", f"/api/executions/{ID}/cancel"),
    ("get", f"/api/executions/{ID}/download"),
    ("get", "/api/notifications"),
    ("get", f"/api/notifications/{ID}"),
    ("post", f"/api/notifications/{ID}/read"),
    ("post", "/api/notifications/read-all"),
    ("get", "/api/health"),
    ("get", "/api/system/settings"),
    ("put", "/api/system/settings"),
    ("get", "/api/system/stats"),
    ("get", "/api/schema"),
    ("get", "/api/docs"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_an_anonymous_request_is_a_401_asking_for_a_token(anon, method, url):
    response = getattr(anon, method)(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "url"), ENDPOINTS[:3])
def test_a_wrong_token_is_a_401(method, url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert getattr(client, method)(url).status_code == 401


def test_the_token_endpoint_answers_a_token_that_works(anon, user):
    response = anon.post(
        "/api/auth/token",
        {"username": "admin", "password": "correct horse battery"},
        format="json",
    )
    assert response.status_code == 200
    anon.credentials(HTTP_AUTHORIZATION=f"Token {response.data['token']}")
    assert anon.get("/api/datasources").status_code == 200


def test_a_wrong_password_gets_no_token(anon, user):
    response = anon.post(
        "/api/auth/token", {"username": "admin", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.data


def test_a_session_login_works_and_unsafe_requests_need_the_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/datasources/").status_code == 200
    response = client.post("/api/notifications/read-all")
    assert response.status_code == 403
    assert "CSRF" in str(response.data["detail"])
