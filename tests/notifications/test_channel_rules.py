"""Which channels a notification goes to: severity, event types, scope, streaks, pause."""

from __future__ import annotations

import uuid

import pytest

from notifications.models import EntityType, Notification, NotificationChannel
from notifications.rules import accepts, channels_for

pytestmark = pytest.mark.django_db


def _channel(name="c", **rule) -> NotificationChannel:
    return NotificationChannel.objects.create(
        name=name, type="webhook", config={"url": "http://127.0.0.1:9/", "secret": "",
                                           "headers": ""}, **rule)  # fmt: skip


def _notification(type="backup_failed", severity="critical", **metadata) -> Notification:
    return Notification(
        type=type, severity=severity, entity_type=EntityType.SYSTEM, title="t", metadata=metadata
    )


def test_the_default_rule_takes_warnings_and_worse_of_every_type_but_successes():
    channel = _channel()
    assert accepts(channel, _notification("backup_failed", "critical"))
    assert accepts(channel, _notification("storage_full", "warning"))
    assert not accepts(channel, _notification("restore_completed", "info"))
    assert not accepts(channel, _notification("backup_success", "critical"))


def test_a_paused_channel_takes_nothing():
    channel = _channel(enabled=False)
    assert not accepts(channel, _notification())
    assert channels_for(_notification()) == []


def test_listed_event_types_replace_the_default():
    channel = _channel(min_severity="info", event_types=["backup_success"])
    assert accepts(channel, _notification("backup_success", "info"))
    assert not accepts(channel, _notification("backup_failed", "critical"))


def test_a_backup_failure_goes_out_once_per_streak_unless_every_failure_is_asked():
    once, every = _channel("once"), _channel("every", every_failure=True)
    first, third = _notification(failure_streak=1), _notification(failure_streak=3)
    assert accepts(once, first)
    assert not accepts(once, third)
    assert accepts(every, first)
    assert accepts(every, third)


def test_scope_by_job_datasource_or_tag():
    job, ds, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    by_job = _channel("job", job_ids=[job])
    by_ds = _channel("ds", datasource_ids=[ds])
    by_tag = _channel("tag", tags=["prod"])
    about_job = _notification(job={"id": job}, datasource={"id": other, "tags": []})
    about_ds = _notification(job={"id": other}, datasource={"id": ds, "tags": ["dev"]})
    about_prod = _notification(job={"id": other}, datasource={"id": other, "tags": ["prod"]})
    assert [accepts(c, about_job) for c in (by_job, by_ds, by_tag)] == [True, False, False]
    assert [accepts(c, about_ds) for c in (by_job, by_ds, by_tag)] == [False, True, False]
    assert [accepts(c, about_prod) for c in (by_job, by_ds, by_tag)] == [False, False, True]


def test_a_health_notification_is_in_the_scope_of_its_datasource():
    ds = uuid.uuid4()
    channel = _channel(datasource_ids=[str(ds)])
    health = Notification(type="connection_lost", severity="critical",
                          entity_type=EntityType.DATASOURCE, entity_id=ds, title="t")  # fmt: skip
    assert accepts(channel, health)


def test_a_scoped_channel_does_not_take_system_wide_events():
    channel = _channel(tags=["prod"])
    assert not accepts(channel, _notification("storage_unreachable", "critical"))


def test_a_failing_channel_is_not_told_about_itself():
    failing, other = _channel("failing"), _channel("other")
    news = _notification("channel_failing", "warning", channel={"id": str(failing.id)})
    assert not accepts(failing, news)
    assert accepts(other, news)
