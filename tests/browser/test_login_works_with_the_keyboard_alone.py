"""An operator logs in with the keyboard alone: Tab to the username, type, Tab to the password,
type, Enter."""

from __future__ import annotations

import pytest

from tests.support.browser import focused, tab_until

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_tab_type_tab_type_enter_logs_in(anonymous_page, server):
    page, watch = anonymous_page
    page.goto("/admin/", wait_until="load")
    assert "/admin/login/" in page.url

    if focused(page)["id"] != "id_username":  # the field has autofocus; Tab to it otherwise
        tab_until(page, lambda element: element["id"] == "id_username")
    page.keyboard.type(server.username)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "id_password"
    page.keyboard.type(server.password)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url == f"{server.url}/admin/"
    assert page.get_by_text(server.username).first.is_visible()
    assert watch.problems() == {}
