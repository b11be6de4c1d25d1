"""Every admin page loads only from the DataGuardian server itself, over plain http on the
loopback (nothing from a CDN, no mixed content), logs no console error, and is photographed at
desktop (1280x800) and phone (390x844) width."""

from __future__ import annotations

import pytest

from tests.browser.pages import ALL_PAGES, DOCS_IMAGES, AdminPage
from tests.support.browser import PHONE, screenshot_path, settle, shoot

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.mark.parametrize("admin_page", ALL_PAGES, ids=lambda page: page.name)
def test_the_page_loads_only_from_the_server_without_errors(page, watch, seeded, admin_page):
    assert isinstance(admin_page, AdminPage)
    response = page.goto(admin_page.url(seeded), wait_until="load")
    settle(page)

    assert response is not None
    assert response.status == 200, response.url
    assert "/admin/login/" not in page.url
    shoot(page, admin_page.name, DOCS_IMAGES.get(admin_page.name))
    page.set_viewport_size(PHONE)
    settle(page)
    shoot(page, admin_page.name)
    assert watch.problems() == {}
    assert screenshot_path(1280, admin_page.name).stat().st_size > 0
    assert screenshot_path(PHONE["width"], admin_page.name).stat().st_size > 0
