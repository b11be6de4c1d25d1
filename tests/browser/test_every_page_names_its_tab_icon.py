"""Every admin page names DataGuardian's own tab icon, which the server has: the browser
never falls back to asking for a /favicon.ico that does not exist."""

from __future__ import annotations

import pytest

from tests.browser.pages import DASHBOARD

pytestmark = pytest.mark.server


def test_the_dashboard_links_a_tab_icon_that_the_server_serves(page, server, watch):
    page.goto(DASHBOARD.url())
    href = page.locator("link[rel=icon]").first.get_attribute("href")
    assert href is not None
    assert href.endswith("/favicon.svg"), href
    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg")
    assert watch.problems() == {}
