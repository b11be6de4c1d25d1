"""The job form's engine options are made from the engine's own declaration: a MongoDB job
shows MongoDB's collection filters and oplog switch, with the labels the engine gives them,
and saves them; the restore wizard offers the engine's restore options the same way."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories
from tests.admin.test_the_job_form_shows_only_the_options_of_the_datasource_type import (
    applies,
    change_page,
    form_data,
)

pytestmark = pytest.mark.django_db

MONGO = {"host": "127.0.0.1", "database": "shop", "username": "u", "password": "p"}
MONGO_OPTIONS = ["option_include_collections", "option_exclude_collections", "option_oplog"]


@pytest.fixture
def mongo_job():
    datasource = factories.DatasourceFactory.create(type="mongodb", connection_config=MONGO)
    return factories.BackupJobFactory.create(datasource=datasource)


def test_a_mongodb_job_shows_its_engines_options_and_not_the_table_filters(admin_client, mongo_job):
    html = change_page(admin_client, mongo_job)

    for name in MONGO_OPTIONS:
        assert applies(html, name), name
    for name in ("option_include_tables", "option_exclude_tables", "option_parallel_jobs"):
        assert not applies(html, name), name
    assert "Only these collections" in html
    assert "Point-in-time dump (oplog)" in html


def test_a_postgres_job_does_not_show_mongodbs_options(admin_client, backup_job):
    html = change_page(admin_client, backup_job)

    for name in MONGO_OPTIONS:
        assert not applies(html, name), name


def test_the_mongodb_options_are_saved_as_the_engine_reads_them(admin_client, mongo_job):
    url = reverse("admin:jobs_backupjob_change", args=[mongo_job.pk])
    response = admin_client.post(
        url, form_data(mongo_job, option_exclude_collections="logs_*\nsessions\n")
    )

    assert response.status_code == 302, response.content.decode()
    mongo_job.refresh_from_db()
    assert mongo_job.backup_options["exclude_collections"] == ["logs_*", "sessions"]
    assert mongo_job.backup_options["oplog"] is False
    assert mongo_job.backup_options.get("include_tables", []) == []

    response = admin_client.post(url, form_data(mongo_job, option_oplog="on"))

    assert response.status_code == 302, response.content.decode()
    mongo_job.refresh_from_db()
    assert mongo_job.backup_options["oplog"] is True
    assert mongo_job.backup_options["exclude_collections"] == []


def test_the_restore_wizard_offers_mongodbs_drop_and_no_postgres_option(admin_client, mongo_job):
    backup = factories.BackupExecutionFactory.create(
        job=mongo_job,
        datasource=mongo_job.datasource,
        storage_location=mongo_job.storage_location,
        status="completed",
    )
    url = reverse("admin:executions_backupexecution_restore", args=[backup.pk])

    html = admin_client.get(url).content.decode()

    assert 'name="drop"' in html
    assert "Drop each collection before restoring it" in html
    for name in ("clean_objects", "schemas", "tables", "overwrite", "target_path"):
        assert f'name="{name}"' not in html, name


def test_an_oplog_dump_with_a_collection_selection_is_refused_on_the_field(admin_client, mongo_job):
    url = reverse("admin:jobs_backupjob_change", args=[mongo_job.pk])
    response = admin_client.post(
        url, form_data(mongo_job, option_include_collections="orders", option_oplog="on")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "covers the whole instance" in str(errors["option_oplog"])
    mongo_job.refresh_from_db()
    assert not mongo_job.backup_options.get("oplog")


def test_the_api_refuses_the_same_combination_and_names_the_option(api, mongo_job):
    answer = api.patch(
        f"/api/backup-jobs/{mongo_job.pk}",
        {"backup_options": {"oplog": True, "exclude_collections": ["logs"]}},
        format="json",
    )

    assert answer.status_code == 400
    assert "oplog" in answer.json()["backup_options"]
    mongo_job.refresh_from_db()
    assert not mongo_job.backup_options.get("oplog")


def test_the_model_refuses_it_too(mongo_job):
    from django.core.exceptions import ValidationError

    mongo_job.backup_options = {**mongo_job.backup_options, "oplog": True}
    mongo_job.backup_options["include_collections"] = ["orders"]
    with pytest.raises(ValidationError, match="covers the whole instance"):
        mongo_job.full_clean()
