"""The queue depth counts the messages actually waiting in the broker, at every priority."""

from __future__ import annotations

import pytest

from core.queues import PRIORITY_MANUAL, PRIORITY_SCHEDULED, QUEUES
from dataguardian.celery import app
from tests.support.metrics import of

pytestmark = pytest.mark.django_db


def test_messages_sent_to_a_queue_are_counted_at_every_priority(scrape, broker):
    for priority in (PRIORITY_MANUAL, PRIORITY_SCHEDULED, PRIORITY_SCHEDULED):
        app.send_task("dataguardian.metrics_test", queue="cleanup", priority=priority)
    app.send_task("dataguardian.metrics_test", queue="health", priority=PRIORITY_SCHEDULED)
    text = scrape()
    assert of(text, "dataguardian_broker_up") == 1
    assert of(text, "dataguardian_queue_depth", queue="cleanup") == 3
    assert of(text, "dataguardian_queue_depth", queue="health") == 1
    for name in set(QUEUES) - {"cleanup", "health"}:
        assert of(text, "dataguardian_queue_depth", queue=name) == 0, name


def test_a_broker_that_does_not_answer_is_reported_down_without_queue_depths(scrape):
    saved = app.conf.broker_url, app.conf.broker_transport
    # Nothing listens on the discard port of loopback: the connection is refused at once.
    app.conf.update(broker_url="redis://127.0.0.1:9/0", broker_transport=None)
    try:
        text = scrape()
    finally:
        app.conf.update(broker_url=saved[0], broker_transport=saved[1])
    assert of(text, "dataguardian_broker_up") == 0
    assert "dataguardian_queue_depth" not in text
