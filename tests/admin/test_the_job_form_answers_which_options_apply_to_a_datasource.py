"""The job page's script asks the admin which backup options apply to the datasource picked:
a staff-only JSON endpoint answering from the engine's declared options."""

from __future__ import annotations

import uuid

from django.urls import reverse

from tests import factories

URL = "admin:jobs_backupjob_options_for"
ENGINE_OPTIONS = ["option_parallel_jobs", "option_include_tables", "option_exclude_tables"]


def options(admin_client, datasource) -> list[str]:
    response = admin_client.get(reverse(URL), {"datasource": str(datasource.pk)})
    assert response.status_code == 200, response.content.decode()
    return list(response.json()["options"])


def test_a_postgres_datasource_gets_parallel_jobs_and_the_table_filters(admin_client, db):
    answer = options(admin_client, factories.DatasourceFactory.create(type="postgres"))
    for name in [*ENGINE_OPTIONS, "option_compression", "option_max_file_size_mb"]:
        assert name in answer, name


def test_files_and_sqlite_datasources_get_only_the_common_options(admin_client, db):
    files = factories.DatasourceFactory.create(
        type="files", connection_config={"source_path": "/srv"}
    )
    sqlite = factories.DatasourceFactory.create(
        type="sqlite", connection_config={"path": "/srv/app.sqlite3"}
    )
    for datasource in (files, sqlite):
        answer = options(admin_client, datasource)
        assert "option_compression" in answer
        for name in ENGINE_OPTIONS:
            assert name not in answer, (datasource.type, name)


def test_an_anonymous_visitor_is_sent_to_the_login(client, db):
    datasource = factories.DatasourceFactory.create()
    response = client.get(reverse(URL), {"datasource": str(datasource.pk)})
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_an_unknown_id_is_a_404_and_a_malformed_one_a_400_both_json(admin_client, db):
    unknown = admin_client.get(reverse(URL), {"datasource": str(uuid.uuid4())})
    assert unknown.status_code == 404
    assert "No datasource" in unknown.json()["error"]
    malformed = admin_client.get(reverse(URL), {"datasource": "not-an-id"})
    assert malformed.status_code == 400
    assert "Not a datasource id" in malformed.json()["error"]
