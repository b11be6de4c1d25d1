"""Fixtures of the browser tests: one server and one Chromium for the whole session, a login
made once and reused (storage state), a fresh context per test with a watch on what it loads,
and a few objects created through the API so that every kind of change page has one to show.

The server is ``manage.py run all`` in server mode (tests/support/browser.py); these tests are
marked ``server`` and run in the server pass only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.browser import CHROMIUM, DESKTOP, Server, Watch, running_server
from tests.support.databases import pg_exec


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("browser-server")) as running:
        yield running


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # chromium_sandbox=False (Playwright's default, said out loud): as root Chromium starts
    # only without its sandbox; see tests/support/browser.py.
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, chromium_sandbox=False
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def login_state(browser: Browser, server: Server) -> dict[str, Any]:
    """The cookies of one admin login, which every logged-in context starts from."""
    context = browser.new_context(base_url=server.url, viewport=DESKTOP)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", server.username)
    page.fill("#id_password", server.password)
    with page.expect_navigation():
        page.click("[type=submit]")
    assert page.url == f"{server.url}/admin/", page.content()
    state: dict[str, Any] = context.storage_state()  # type: ignore[assignment]
    context.close()
    return state


def _context(browser: Browser, server: Server, watch: Watch, **options: Any) -> BrowserContext:
    context = browser.new_context(base_url=server.url, viewport=DESKTOP, **options)
    context.set_default_timeout(15_000)
    watch.attach(context)
    return context


@pytest.fixture(scope="session")
def _watch(server: Server) -> Watch:
    return Watch(server.url)


@pytest.fixture
def watch(_watch: Watch) -> Watch:
    """The watch over the logged-in pages, emptied for this test."""
    _watch.reset()
    return _watch


@pytest.fixture(scope="session")
def context(browser: Browser, server: Server, login_state, _watch: Watch):
    """The logged-in browser context, its requests and console watched."""
    ctx = _context(browser, server, _watch, storage_state=login_state)
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def _page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def page(_page: Page, watch: Watch) -> Page:
    """The logged-in page at 1280x800; one page serves every test (a new one costs a renderer
    process), each test starts by going somewhere."""
    _page.set_viewport_size(DESKTOP)
    return _page


@pytest.fixture
def anonymous_page(browser: Browser, server: Server) -> Iterator[tuple[Page, Watch]]:
    """A page of a context that has not logged in, and the watch over it."""
    anonymous_watch = Watch(server.url)
    ctx = _context(browser, server, anonymous_watch)
    yield ctx.new_page(), anonymous_watch
    ctx.close()


@pytest.fixture(scope="session")
def source_database() -> Iterator[str]:
    """A small PostgreSQL database to back up: one table of three known rows."""
    name = f"dgbrowser_src_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    pg_exec(
        "CREATE TABLE plants (id int PRIMARY KEY, name text NOT NULL);"
        "INSERT INTO plants VALUES (1, 'fern'), (2, 'moss'), (3, 'ivy');",
        name,
    )
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def seeded(
    server: Server, source_database: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """One datasource, storage location, job and completed backup, made through the API."""
    storage_dir: Path = tmp_path_factory.mktemp("browser-storage")
    datasource = server.api(
        "POST",
        "/api/datasources",
        {
            "name": "plants db",
            "type": "postgres",
            "tags": ["garden"],
            "connection_config": {
                "host": "127.0.0.1",
                "port": 5432,
                "database": source_database,
                "username": "postgres",
                "password": "",
            },
        },
    )
    storage = server.api(
        "POST",
        "/api/storage-locations",
        {"name": "local disk", "type": "local", "config": {"path": str(storage_dir)}},
    )
    job = server.api(
        "POST",
        "/api/backup-jobs",
        {
            "name": "plants nightly",
            "datasource_id": datasource["id"],
            "storage_location_id": storage["id"],
            "schedule_cron": "0 3 * * *",
            "schedule_timezone": "Europe/Berlin",
        },
    )
    queued = server.api("POST", f"/api/backup-jobs/{job['id']}/run")
    execution = server.wait_for_execution(queued["id"])
    assert execution["status"] == "completed", execution
    return {"datasource": datasource, "storage": storage, "job": job, "execution": execution}
