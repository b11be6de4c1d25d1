"""On the job add page the backup options follow the datasource select without a reload:
picking a PostgreSQL datasource shows Parallel dump jobs, picking a files one hides its row."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.server

ADD_PAGE = "/admin/jobs/backupjob/add/"


def pick_datasource(page: Page, label: str) -> None:
    page.locator("select[name=datasource] + .select2 .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(label)
    page.locator(".select2-results__option", has_text=label).first.click()


def test_parallel_jobs_appears_for_postgres_and_goes_for_files(
    page, server, seeded, watch, tmp_path_factory
):
    source = tmp_path_factory.mktemp("switch-options-files")
    server.api(
        "POST",
        "/api/datasources",
        {
            "name": "garden files",
            "type": "files",
            "connection_config": {"source_path": str(source)},
        },
    )
    page.goto(ADD_PAGE)
    parallel = page.locator(".form-row:has(.field-option_parallel_jobs)")
    compression = page.locator(".form-row:has(.field-option_compression)")
    expect(parallel).to_be_hidden()
    expect(compression).to_be_visible()

    pick_datasource(page, seeded["datasource"]["name"])
    expect(parallel).to_be_visible()
    expect(page.locator("[name=option_parallel_jobs]")).to_be_enabled()

    pick_datasource(page, "garden files")
    expect(parallel).to_be_hidden()
    expect(page.locator("[name=option_parallel_jobs]")).to_be_disabled()
    expect(compression).to_be_visible()
    assert watch.problems() == {}
