"""At phone width (390x844) the dashboard and the changelists an operator opens every day do
not scroll sideways: the page is no wider than the window (a wide table may scroll inside its
own box, which does not widen the page)."""

from __future__ import annotations

import pytest

from tests.browser.pages import MAIN_PAGES, AdminPage
from tests.support.browser import PHONE, horizontal_overflow, settle

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.mark.parametrize("admin_page", MAIN_PAGES, ids=lambda page: page.name)
def test_the_page_is_no_wider_than_a_phone(page, seeded, admin_page):
    assert isinstance(admin_page, AdminPage)
    page.set_viewport_size(PHONE)
    page.goto(admin_page.url(seeded), wait_until="load")
    settle(page)

    assert page.evaluate("window.innerWidth") == PHONE["width"]
    assert horizontal_overflow(page) <= 1
