"""On a changelist the keyboard reaches the main actions: the "Add" link, a row's checkbox,
the action select and its "Run" button, which runs the chosen action."""

from __future__ import annotations

import pytest

from tests.support.browser import focused, tab_until

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_add_select_a_row_choose_an_action_and_run_it_by_keyboard(page, server, seeded, watch):
    runs = f"/api/executions?job={seeded['job']['id']}"
    runs_before = server.api("GET", runs)["count"]
    page.goto("/admin/jobs/backupjob/", wait_until="load")

    tab_until(page, lambda element: element["href"].endswith("/admin/jobs/backupjob/add/"))
    tab_until(page, lambda element: element["name"] == "_selected_action")
    page.keyboard.press("Space")
    assert page.locator("[name=_selected_action]").first.is_checked()
    tab_until(page, lambda element: element["tag"] == "select" and element["name"] == "action")
    for _ in range(5):  # the actions in their order: down to "Back up the selected jobs now"
        if focused(page)["value"] == "run_now":
            break
        page.keyboard.press("ArrowDown")
    assert focused(page)["value"] == "run_now"
    run = tab_until(page, lambda element: element["tag"] == "button" and element["name"] == "index")
    assert run[-1]["text"] == "Run"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.get_by_text("Queued 1 backup(s)").first.is_visible()
    assert server.api("GET", runs)["count"] == runs_before + 1
    assert watch.problems() == {}
