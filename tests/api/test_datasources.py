"""/api/datasources against the real local PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from core.fields import MASK
from datasources.models import Datasource, HealthCheck
from tests import factories
from tests.support.api import DS_SECRET, MARIADB, PG

pytestmark = pytest.mark.django_db


def _create(api, **overrides):
    body = {"name": "main db", "type": "postgres", "connection_config": dict(PG), **overrides}
    return api.post("/api/datasources", body, format="json")


def test_creating_a_reachable_postgres_datasource_marks_it_healthy(api):
    response = _create(api)
    assert response.status_code == 201, response.data
    assert response.data["status"] == "healthy"
    assert response.data["last_health_check_at"] is not None
    assert Datasource.objects.get(pk=response.data["id"]).connection_config["port"] == 5432


def test_creating_a_reachable_mariadb_datasource_succeeds(api):
    response = _create(api, type="mysql", connection_config=dict(MARIADB))
    assert response.status_code == 201, response.data
    assert response.data["type"] == "mysql"


def test_an_unreachable_datasource_is_refused_with_the_reason(api):
    response = _create(api, connection_config={**PG, "port": 1})
    assert response.status_code == 400
    message = str(response.data["connection_config"][0])
    assert message.startswith("Connection test failed (unreachable)")
    assert not Datasource.objects.exists()


def test_a_wrong_password_is_refused_without_echoing_it(api):
    response = _create(api, type="mysql", connection_config={**MARIADB, "password": "nope-Xy9"})
    assert response.status_code == 400
    assert "Connection test failed" in str(response.data["connection_config"])
    assert "nope-Xy9" not in response.content.decode()


def test_an_unknown_top_level_field_is_rejected(api):
    response = _create(api, colour="blue")
    assert response.status_code == 400
    assert response.data["colour"] == ["Unknown field."]


def test_an_unknown_config_field_is_rejected_under_the_config(api):
    response = _create(api, connection_config={**PG, "hostname": "x"})
    assert response.status_code == 400
    assert "hostname" in response.data["connection_config"]


def test_a_config_of_the_wrong_shape_gets_field_messages(api):
    response = _create(api, connection_config={"host": "127.0.0.1", "port": "many"})
    assert response.status_code == 400
    assert set(response.data["connection_config"]) >= {"port", "database", "username"}


def test_an_unknown_type_is_a_field_error(api):
    response = _create(api, type="oracle")
    assert response.status_code == 400
    assert "type" in response.data


@pytest.mark.parametrize("body", [[], "text", None, 5, {"connection_config": []}])
def test_a_body_of_the_wrong_type_is_a_400(api, body):
    response = api.post("/api/datasources", body, format="json")
    assert response.status_code == 400


def test_the_stored_password_is_shown_masked(api, secret_datasource):
    response = api.get(f"/api/datasources/{secret_datasource.pk}")
    assert response.status_code == 200
    assert response.data["connection_config"]["password"] == MASK


def test_a_password_sent_back_masked_keeps_the_stored_one(api):
    created = _create(api, connection_config={**PG, "password": "stored-Pw-2"})
    response = api.put(
        f"/api/datasources/{created.data['id']}",
        {
            **{k: created.data[k] for k in ("name", "type", "enabled", "tags")},
            "connection_config": created.data["connection_config"],
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    stored = Datasource.objects.get(pk=created.data["id"])
    assert stored.connection_config["password"] == "stored-Pw-2"


def test_a_patch_omitting_the_password_keeps_the_stored_one(api):
    created = _create(api, connection_config={**PG, "password": "stored-Pw-1"})
    assert created.status_code == 201, created.data
    response = api.patch(
        f"/api/datasources/{created.data['id']}",
        {"connection_config": dict(PG)},
        format="json",
    )
    assert response.status_code == 200, response.data
    stored = Datasource.objects.get(pk=created.data["id"])
    assert stored.connection_config["password"] == "stored-Pw-1"


def test_a_patch_of_the_name_alone_does_not_retest_the_connection(api, secret_datasource):
    response = api.patch(
        f"/api/datasources/{secret_datasource.pk}", {"name": "renamed"}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data["name"] == "renamed"


def test_the_type_of_a_datasource_cannot_change(api, secret_datasource):
    response = api.patch(
        f"/api/datasources/{secret_datasource.pk}", {"type": "mysql"}, format="json"
    )
    assert response.status_code == 400
    assert "type" in response.data


def test_test_connection_records_a_health_check(api):
    created = _create(api)
    response = api.post(f"/api/datasources/{created.data['id']}/test-connection")
    assert response.status_code == 200
    assert response.data["status"] == "ok"
    assert HealthCheck.objects.filter(datasource_id=created.data["id"]).count() == 1


def test_test_connection_of_an_unreachable_datasource_reports_the_failure(api, secret_datasource):
    Datasource.objects.filter(pk=secret_datasource.pk).update(
        connection_config={**PG, "port": 1, "password": ""}
    )
    response = api.post(f"/api/datasources/{secret_datasource.pk}/test-connection/")
    assert response.status_code == 200
    assert response.data["status"] == "unreachable"


def test_health_checks_are_listed_newest_first(api, secret_datasource):
    for status in ["ok", "timeout", "error"]:
        HealthCheck.objects.create(datasource=secret_datasource, status=status)
    response = api.get(f"/api/datasources/{secret_datasource.pk}/health-checks")
    assert response.status_code == 200
    assert [c["status"] for c in response.data["results"]] == ["error", "timeout", "ok"]


def test_datasources_filter_by_type_and_tag(api, secret_datasource):
    assert api.get("/api/datasources?type=postgres").data["count"] == 1
    assert api.get("/api/datasources?type=mysql").data["count"] == 0
    assert api.get("/api/datasources?tag=production").data["count"] == 1
    assert api.get("/api/datasources?tag=staging").data["count"] == 0


def test_the_tag_filter_matches_whole_tags_on_every_database(api, db):
    factories.DatasourceFactory.create(name="a", tags=["production", "eu"])
    factories.DatasourceFactory.create(name="b", tags=["prod"])
    factories.DatasourceFactory.create(name="c", tags=[])

    def names(tag):
        response = api.get("/api/datasources", {"tag": tag})
        assert response.status_code == 200
        return sorted(d["name"] for d in response.data["results"])

    assert names("prod") == ["b"]
    assert names("eu") == ["a"]
    assert names("production") == ["a"]
    assert names("e") == []
    assert names('"prod"') == []


def test_deleting_a_datasource_used_by_a_job_is_a_conflict(api, job):
    response = api.delete(f"/api/datasources/{job.datasource_id}")
    assert response.status_code == 409
    assert response.data == {
        "detail": "Backup jobs or executions use this datasource; delete them first."
    }


def test_deleting_an_unused_datasource_removes_it(api, secret_datasource):
    response = api.delete(f"/api/datasources/{secret_datasource.pk}/")
    assert response.status_code == 204
    assert not Datasource.objects.exists()


def test_the_stored_secret_is_not_in_any_datasource_response(api, secret_datasource):
    for url in ["/api/datasources", f"/api/datasources/{secret_datasource.pk}"]:
        assert DS_SECRET not in api.get(url).content.decode()


@pytest.mark.embedded
def test_a_query_sqlite_cannot_run_is_a_clear_501_not_a_500(api, db, monkeypatch):
    from datasources.api import DatasourceFilter

    # The tag filter as first written, with PostgreSQL's JSON ``contains``.
    monkeypatch.setattr(
        DatasourceFilter,
        "filter_tag",
        lambda self, qs, name, value: qs.filter(tags__contains=[value]),
    )
    response = api.get("/api/datasources", {"tag": "prod"})
    assert response.status_code == 501
    assert "sqlite metadata database cannot answer this request" in response.data["detail"]
    assert "PostgreSQL (DATABASE_URL)" in response.data["detail"]
