"""Fixtures of the notification tests: an HTTP receiver, SMTP servers (plain, STARTTLS with
login, implicit TLS) and a certificate authority, all on 127.0.0.1 and stopped after each
test; webhook channel rows; and a real worker on the notifications queue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from notifications.models import NotificationChannel
from tests.support.loopback import (
    Certificates,
    MailServer,
    Receiver,
    check_password,
    http_receiver,
    make_certificates,
    smtp_server,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as server:
        yield server


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def plain_smtp() -> Iterator[MailServer]:
    """No TLS, no login: a relay on a trusted network."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def starttls_smtp(certificates: Certificates) -> Iterator[MailServer]:
    """STARTTLS required before anything, then a login, checked against SMTP_USER/PASSWORD."""
    with smtp_server(
        tls_context=certificates.server_context(),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=check_password,
    ) as server:
        yield server


@pytest.fixture
def smtps(certificates: Certificates) -> Iterator[MailServer]:
    """Implicit TLS from the first byte; login offered (the connection is already TLS)."""
    with smtp_server(
        ssl_context=certificates.server_context(),
        auth_require_tls=False,
        authenticator=check_password,
    ) as server:
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

    # The embedded worker sets the root logger's level for itself; later tests keep theirs.
    root_level = logging.root.level
    try:
        with start_worker(
            app,
            pool="threads",
            concurrency=5,
            queues=["notifications"],
            perform_ping_check=False,
            shutdown_timeout=30,
        ):
            yield
    finally:
        logging.root.setLevel(root_level)
