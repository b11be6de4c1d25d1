"""/api/notification-channels: CRUD with write-only secrets, the test action, the log."""

from __future__ import annotations

import pytest

from core.fields import MASK
from notifications.models import Delivery, NotificationChannel

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "c2VjcmV0LWtleS1vZi10aGUtdGVzdHM="
HEADER_TOKEN = "Bearer tok-123456789"


def _create(api, url, **extra):
    body = {
        "name": "ops hook",
        "type": "webhook",
        "config": {"url": url, "secret": SECRET, "headers": f"Authorization: {HEADER_TOKEN}"},
        **extra,
    }
    return api.post("/api/notification-channels", body, format="json")


def test_a_channel_is_created_with_its_rule_and_its_secrets_never_come_back(api, receiver):
    response = _create(api, receiver.url(), min_severity="critical", tags=["prod"])
    assert response.status_code == 201, response.data
    shown = api.get(f"/api/notification-channels/{response.data['id']}").data
    assert shown["config"]["secret"] == MASK
    assert shown["config"]["headers"] == MASK
    assert (shown["min_severity"], shown["tags"]) == ("critical", ["prod"])
    assert SECRET not in str(shown)
    assert HEADER_TOKEN not in str(shown)


def test_bad_config_and_unknown_types_are_field_errors(api):
    assert "config" in _create(api, "not a url").data
    bad = api.post("/api/notification-channels", {"name": "x", "type": "pager", "config": {}},
                   format="json")  # fmt: skip
    assert bad.status_code == 400
    assert "type" in bad.data


def test_the_test_action_sends_through_the_channel_and_reports_the_answer(api, receiver):
    channel_id = _create(api, receiver.url()).data["id"]
    response = api.post(f"/api/notification-channels/{channel_id}/test")
    assert response.status_code == 200
    assert (response.data["status"], response.data["code"]) == ("sent", 200)
    assert len(receiver.wait_for(1)) == 1
    sent = receiver.requests[0]
    assert sent.headers["Authorization"] == HEADER_TOKEN
    assert "webhook-signature" in {k.lower() for k in sent.headers}
    assert HEADER_TOKEN not in response.data["target"]


def test_the_test_action_reports_the_exact_error_of_a_failing_channel(api):
    channel_id = _create(api, "http://127.0.0.1:9/hook").data["id"]
    response = api.post(f"/api/notification-channels/{channel_id}/test")
    assert response.status_code == 200
    assert response.data["status"] == "failed"
    assert response.data["error"]
    channel = NotificationChannel.objects.get(pk=channel_id)
    assert channel.consecutive_failures == 0  # a test does not count against the channel


def test_the_delivery_log_lists_attempts_by_channel(api, receiver):
    channel_id = _create(api, receiver.url()).data["id"]
    api.post(f"/api/notification-channels/{channel_id}/test")
    log = api.get(f"/api/notification-deliveries?channel={channel_id}")
    assert log.status_code == 200
    assert [row["status"] for row in log.data["results"]] == ["sent"]
    assert Delivery.objects.count() == 1
    for row in log.data["results"]:
        assert SECRET not in str(row)
        assert HEADER_TOKEN not in str(row)
