"""Fixtures of the channel tests: an HTTP receiver, SMTP servers (plain, STARTTLS with login,
implicit TLS) and a certificate authority, all on 127.0.0.1 and stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.loopback import (
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
