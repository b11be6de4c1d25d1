"""The job form shows the backup options as typed fields, only those the datasource's type
reads (the others are in the page, disabled and hidden, for the script to switch), and
validates them through the options schema so errors name the field."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests import factories

COMMON = [
    "option_compression",
    "option_compression_level",
    "option_compression_threads",
    "option_max_file_size_mb",
]


def applies(html: str, name: str) -> bool:
    """Whether the option field ``name`` is shown: marked as applying and not disabled."""
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', html)
    assert tag is not None, name
    marked = 'data-option-applies="true"' in tag.group(0)
    disabled = re.search(r"\sdisabled(?=[\s>])", tag.group(0)) is not None
    assert marked != disabled, tag.group(0)
    return marked


def change_page(admin_client, job) -> str:
    response = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk]))
    return str(response.content.decode())


@pytest.mark.parametrize(
    ("kind", "shown", "hidden"),
    [
        (
            "postgres",
            ["option_parallel_jobs", "option_include_tables", "option_exclude_tables"],
            [],
        ),
        ("mysql", ["option_include_tables", "option_exclude_tables"], ["option_parallel_jobs"]),
        (
            "files",
            [],
            ["option_parallel_jobs", "option_include_tables", "option_exclude_tables"],
        ),
    ],
)
def test_each_type_gets_its_own_options(admin_client, db, kind, shown, hidden):
    config = {"source_path": "/srv"} if kind == "files" else None
    datasource = factories.DatasourceFactory.create(
        type=kind, **({"connection_config": config} if config else {})
    )
    html = change_page(admin_client, factories.BackupJobFactory.create(datasource=datasource))
    for name in COMMON + shown:
        assert applies(html, name), name
    for name in hidden:
        assert not applies(html, name), name


def test_without_a_datasource_the_add_page_shows_the_common_options(admin_client, db):
    html = admin_client.get(reverse("admin:jobs_backupjob_add")).content.decode()
    for name in COMMON:
        assert applies(html, name), name
    assert not applies(html, "option_parallel_jobs")
    assert not applies(html, "option_include_tables")


def form_data(job, **overrides: object) -> dict[str, object]:
    return {
        "name": job.name,
        "enabled": "on",
        "datasource": str(job.datasource.pk),
        "storage_location": str(job.storage_location.pk),
        "schedule_cron": job.schedule_cron,
        "schedule_timezone": job.schedule_timezone,
        "retention_keep_daily": "7",
        "retention_keep_weekly": "4",
        "retention_keep_monthly": "12",
        "option_compression": "zstd",
        **overrides,
    }


def test_tables_are_one_per_line_and_saved_as_lists(admin_client, backup_job):
    url = reverse("admin:jobs_backupjob_change", args=[backup_job.pk])
    response = admin_client.post(
        url,
        form_data(
            backup_job,
            option_include_tables="public.orders\npublic.customers\n",
            option_exclude_tables="logs_*",
            option_parallel_jobs="4",
            option_max_file_size_mb="512",
        ),
    )
    assert response.status_code == 302, response.content.decode()
    backup_job.refresh_from_db()
    options = backup_job.backup_options
    assert options["include_tables"] == ["public.orders", "public.customers"]
    assert options["exclude_tables"] == ["logs_*"]
    assert options["parallel_jobs"] == 4
    assert options["max_file_size_mb"] == 512
    assert options["compression"] == "zstd"


def test_a_level_the_compressor_refuses_is_an_error_on_that_field(admin_client, backup_job):
    url = reverse("admin:jobs_backupjob_change", args=[backup_job.pk])
    response = admin_client.post(
        url, form_data(backup_job, option_compression="lz4", option_compression_level="30")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "lz4 takes a level from 0 to 16" in str(errors["option_compression_level"])
    backup_job.refresh_from_db()
    assert backup_job.backup_options["compression"] == "zstd"
