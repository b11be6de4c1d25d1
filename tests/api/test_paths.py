"""Every path under /api/ (and /health) answers the same with and without its trailing slash,
as docs/API.md says. The paths come from the URL configuration itself, so a route added later
is checked too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from executions.models import BackupExecution
from notifications.models import Delivery, Notification, NotificationChannel
from tests.factories import BackupExecutionFactory

pytestmark = pytest.mark.django_db

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """(route as written, with regex anchors, name) of every pattern under ``patterns``."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def _concrete(route: str, ids: dict[str, str]) -> str | None:
    """``route`` as a path without its trailing slash, the ``pk`` of the resource it is under
    filled in; None outside /api and /health, and for the ``.json``-style format variants (not
    part of the documented API)."""
    path = route.replace("^", "").replace("$", "").replace("/?", "")
    if not path.startswith(("api", "health")) or "format" in path:
        return None
    resource = path.removeprefix("api/").split("/", 1)[0]
    path = _GROUP.sub(lambda m: ids[resource], path)
    return "/" + path.rstrip("/")


@pytest.fixture
def ids(backup_job) -> dict[str, str]:
    """An existing object for every resource with detail routes, by its URL prefix."""
    execution = BackupExecutionFactory.create(
        job=backup_job, status=BackupExecution.Status.COMPLETED
    )
    notification = Notification.objects.create(
        type="backup_failed", severity="critical", entity_type="system", title="Backup failed"
    )
    channel = NotificationChannel.objects.create(
        name="hook", type="webhook", config={"url": "http://127.0.0.1:9/", "secret": ""}
    )
    delivery = Delivery.objects.create(
        notification=notification, channel=channel, status="failed", error="refused"
    )
    objects = {
        "datasources": backup_job.datasource,
        "storage-locations": backup_job.storage_location,
        "backup-jobs": backup_job,
        "executions": execution,
        "notifications": notification,
        "notification-channels": channel,
        "notification-deliveries": delivery,
    }
    return {prefix: str(obj.pk) for prefix, obj in objects.items()}


def _paths(ids: dict[str, str]) -> list[str]:
    found = {_concrete(route, ids) for route, _ in _routes(get_resolver().url_patterns)}
    return sorted(path for path in found if path)


def test_the_walk_finds_every_kind_of_route(ids):
    paths = _paths(ids)

    assert {"/health", "/api", "/api/health", "/api/auth/token", "/api/schema"} <= set(paths)
    assert f"/api/datasources/{ids['datasources']}/health-checks" in paths  # a detail @action
    assert "/api/notifications/read-all" in paths  # a list @action
    assert len(paths) > 30


def test_every_path_answers_the_same_with_and_without_the_trailing_slash(api, ids):
    answers = {}
    for path in _paths(ids):
        without, with_slash = api.get(path), api.get(path + "/")
        answers[path] = (without.status_code, with_slash.status_code)

    # 405 is a POST-only route saying GET is not its method: it was found.
    not_found = {path: codes for path, codes in answers.items() if 404 in codes}
    differ = {path: codes for path, codes in answers.items() if codes[0] != codes[1]}
    assert not_found == {}
    assert differ == {}
    assert answers["/api/health"][0] in (200, 503)
    assert answers[f"/api/executions/{ids['executions']}/cancel"] == (405, 405)


def test_a_missing_object_is_a_404_either_way(api):
    missing = "00000000-0000-0000-0000-000000000000"
    detail, action = f"/api/datasources/{missing}", f"/api/executions/{missing}/cancel"

    assert (api.get(detail).status_code, api.get(detail + "/").status_code) == (404, 404)
    assert (api.post(action).status_code, api.post(action + "/").status_code) == (404, 404)


def test_reverse_gives_the_documented_form_without_the_slash():
    names = ["health", "api-health", "api-token", "api-settings", "api-stats", "api-schema"]

    assert [reverse(name) for name in names] == [
        "/health",
        "/api/health",
        "/api/auth/token",
        "/api/system/settings",
        "/api/system/stats",
        "/api/schema",
    ]
    assert reverse("api-docs") == "/api/docs"
