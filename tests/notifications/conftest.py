"""Fixtures of the notification tests: channels, and a real worker on the notifications queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from notifications.models import NotificationChannel
from tests.support.receivers import Receiver, http_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as server:
        yield server


@pytest.fixture
def webhook_channel(db) -> Callable[..., NotificationChannel]:
    def make(url: str, name: str = "hook", **rule: Any) -> NotificationChannel:
        return NotificationChannel.objects.create(
            name=name, type="webhook", config={"url": url, "secret": "", "headers": ""}, **rule
        )

    return make


@pytest.fixture
def notifications_worker(broker, transactional_db) -> Iterator[None]:
    """A Celery worker in this process consuming the notifications queue of the tests'
    Redis database, as the notifications container does."""
    from celery.contrib.testing.worker import start_worker

    from dataguardian.celery import app

    with start_worker(
        app,
        pool="threads",
        concurrency=5,
        queues=["notifications"],
        perform_ping_check=False,
        shutdown_timeout=30,
    ):
        yield
