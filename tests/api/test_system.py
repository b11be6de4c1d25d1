"""/api/health, /api/system/settings, /api/system/stats, the schema and the docs page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from core import system_settings
from core.fields import MASK
from tests.factories import BackupExecutionFactory
from tests.support.api import SMTP, SMTP_SECRET

pytestmark = pytest.mark.django_db


def test_health_reports_the_database_broker_workers_beat_and_storage(api):
    response = api.get("/api/health")
    assert response.status_code == 200, response.data
    assert response.data["database"]["status"] == "up"
    assert response.data["broker"]["status"] == "up"
    assert set(response.data) >= {"workers", "beat", "storage", "status"}


def test_settings_list_every_known_key(api):
    response = api.get("/api/system/settings")
    assert response.status_code == 200
    assert set(response.data) == set(system_settings.SPECS)


def test_settings_are_validated_per_key(api):
    response = api.put(
        "/api/system/settings",
        {"system.max_concurrent_backups": 0, "system.colour": "red"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.data) == {"system.max_concurrent_backups", "system.colour"}
    assert system_settings.get("system.max_concurrent_backups") == 3


def test_a_valid_setting_is_stored(api):
    response = api.put("/api/system/settings", {"system.max_concurrent_backups": 5}, format="json")
    assert response.status_code == 200
    assert response.data["system.max_concurrent_backups"] == 5
    assert system_settings.get("system.max_concurrent_backups") == 5


def test_a_secret_setting_is_masked_and_kept_when_sent_back_masked(api):
    key = "notifications.email_smtp_config"
    stored = api.put("/api/system/settings", {key: SMTP}, format="json")
    assert stored.status_code == 200, stored.data
    assert stored.data[key]["password"] == MASK
    shown = api.get("/api/system/settings").data[key]
    again = api.put("/api/system/settings", {key: {**shown, "port": 587}}, format="json")
    assert again.status_code == 200, again.data
    assert system_settings.get(key)["password"] == SMTP_SECRET
    assert SMTP_SECRET not in again.content.decode()


@pytest.mark.parametrize("body", [[], {}, "x"])
def test_settings_need_an_object_of_keys(api, body):
    assert api.put("/api/system/settings", body, format="json").status_code == 400


def test_stats_count_statuses_bytes_and_the_last_day(api, job):
    now = timezone.now()
    BackupExecutionFactory.create(
        job=job, status="completed", compressed_size_bytes=100, finished_at=now
    )
    BackupExecutionFactory.create(job=job, status="failed", created_at=now - timedelta(days=2))
    response = api.get("/api/system/stats")
    assert response.status_code == 200
    assert response.data["executions_by_status"]["completed"] == 1
    assert response.data["executions_by_status"]["failed"] == 1
    assert response.data["total_stored_bytes"] == 100
    assert response.data["last_24h"] == {"succeeded": 1, "failed": 0}
    (source,) = response.data["datasources"]
    assert source["last_backup_at"] == now.isoformat()


def test_the_openapi_schema_is_valid(api):
    response = api.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert "/api/executions/{id}/download/" in schema["paths"]


def test_the_schema_shows_each_config_type(api):
    schema = yaml.safe_load(api.get("/api/schema").content)
    components = schema["components"]["schemas"]
    config = components["DatasourceRequest"]["properties"]["connection_config"]
    assert len(config["anyOf"]) >= 5
    assert "secret_access_key" in str(components)


def test_the_swagger_ui_page_answers(api):
    response = api.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
