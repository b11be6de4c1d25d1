"""EmailChannel against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS with login,
implicit TLS, and the ways a delivery fails."""

from __future__ import annotations

import email
import email.policy
import logging
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from notifications.channels.base import DeliveryError
from notifications.channels.email import EmailChannel
from tests.support.loopback import (
    SMTP_PASSWORD,
    SMTP_USER,
    Certificates,
    MailServer,
    free_port,
    sample_message,
    silent_server,
)

WRONG_PASSWORD = "not-the-password-5521"


@pytest.fixture
def trusting(certificates: Certificates) -> Callable[[dict[str, Any]], EmailChannel]:
    """An EmailChannel that trusts the tests' CA (and only it) instead of the system store."""

    class TrustingEmailChannel(EmailChannel):
        def _ssl_context(self):
            return certificates.client_context()

    return TrustingEmailChannel


def received(server: MailServer) -> EmailMessage:
    content = server.last.envelope.content
    assert isinstance(content, bytes)
    mail = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def login(server: MailServer, **overrides: Any) -> dict[str, Any]:
    return server.config(**{"username": SMTP_USER, "password": SMTP_PASSWORD, **overrides})


# -- delivery --------------------------------------------------------------------------------


def test_a_plain_relay_receives_subject_sender_recipients_and_body(plain_smtp):
    EmailChannel(plain_smtp.config()).send(sample_message())

    delivered = plain_smtp.last
    assert delivered.envelope.mail_from == "dataguardian@example.org"
    assert delivered.envelope.rcpt_tos == ["ops@example.org", "oncall@example.org"]
    mail = received(plain_smtp)
    assert mail["Subject"] == "[DataGuardian] CRITICAL Backup of shop failed"
    assert mail["From"] == "dataguardian@example.org"
    assert mail["To"] == "ops@example.org, oncall@example.org"
    assert mail.get_content().strip() == sample_message().text


def test_without_a_username_there_is_no_login(plain_smtp):
    EmailChannel(plain_smtp.config()).send(sample_message())

    assert plain_smtp.last.login is None
    assert not plain_smtp.last.encrypted


def test_the_result_is_the_reply_to_the_final_data(plain_smtp):
    result = EmailChannel(plain_smtp.config()).send(sample_message())

    assert result.code == 250
    assert result.response == "2.0.0 Ok: queued as 4F2A1"


def test_the_message_id_is_the_notification_id_on_every_attempt(plain_smtp):
    channel = EmailChannel(plain_smtp.config())
    channel.send(sample_message())
    first = received(plain_smtp)["Message-ID"]
    channel.send(sample_message())

    assert first == received(plain_smtp)["Message-ID"]
    assert first == f"<{sample_message().id}@example.org>"


def test_a_body_that_is_not_ascii_arrives_intact(plain_smtp):
    text = "La sauvegarde de « boutique » a échoué — pg_dump: 致命的エラー"
    EmailChannel(plain_smtp.config()).send(sample_message(text=text, title="Échec de boutique"))

    mail = received(plain_smtp)
    assert mail.get_content().strip() == text
    assert mail["Subject"] == "[DataGuardian] CRITICAL Échec de boutique"


def test_starttls_logs_in_and_the_message_travels_encrypted(starttls_smtp, trusting):
    trusting(login(starttls_smtp, security="starttls")).send(sample_message())

    delivered = starttls_smtp.last
    assert delivered.encrypted
    assert delivered.login == SMTP_USER
    assert received(starttls_smtp)["Subject"] == "[DataGuardian] CRITICAL Backup of shop failed"


def test_implicit_tls_logs_in_and_delivers(smtps, trusting):
    result = trusting(login(smtps, security="tls")).send(sample_message())

    assert result.code == 250
    assert smtps.last.encrypted
    assert smtps.last.login == SMTP_USER
    assert received(smtps).get_content().strip() == sample_message().text


# -- failures --------------------------------------------------------------------------------


def test_a_wrong_password_is_a_permanent_error_that_does_not_echo_it(starttls_smtp, trusting):
    channel = trusting(login(starttls_smtp, security="starttls", password=WRONG_PASSWORD))

    with pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    assert not raised.value.transient
    assert raised.value.code == 535
    assert WRONG_PASSWORD not in str(raised.value)
    assert WRONG_PASSWORD not in raised.value.response
    assert starttls_smtp.recorder.delivered == []


def test_a_server_without_starttls_gets_nothing_when_starttls_is_asked(plain_smtp):
    channel = EmailChannel(plain_smtp.config(security="starttls"))

    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as raised:
        channel.send(sample_message())

    assert not raised.value.transient
    assert plain_smtp.recorder.delivered == []


def test_a_certificate_the_system_does_not_trust_fails_the_handshake(smtps):
    channel = EmailChannel(login(smtps, security="tls"))

    with pytest.raises(DeliveryError, match="TLS handshake failed") as raised:
        channel.send(sample_message())

    assert not raised.value.transient
    assert smtps.recorder.delivered == []


def test_starttls_to_an_untrusted_certificate_sends_nothing(starttls_smtp):
    channel = EmailChannel(login(starttls_smtp, security="starttls"))

    with pytest.raises(DeliveryError, match="TLS handshake failed"):
        channel.send(sample_message())

    assert starttls_smtp.recorder.delivered == []


def test_a_closed_port_is_a_transient_error():
    config = {"host": "127.0.0.1", "port": free_port(), "security": "none"}
    channel = EmailChannel({**config, "from_email": "dg@example.org", "to": ["a@example.org"]})

    with pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    assert raised.value.transient


def test_a_server_that_never_answers_times_out_within_the_timeout():
    with silent_server() as port:
        config = {"host": "127.0.0.1", "port": port, "security": "none"}
        channel = EmailChannel(
            {**config, "from_email": "dg@example.org", "to": ["a@example.org"]}, timeout=1
        )
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="within 1 s") as raised:
            channel.send(sample_message())

    assert raised.value.transient
    assert time.monotonic() - started < 5


def test_recipients_all_refused_for_good_are_a_permanent_error(plain_smtp):
    plain_smtp.recorder.refuse = {
        "ops@example.org": "550 5.1.1 No such user",
        "oncall@example.org": "550 5.1.1 No such user",
    }

    with pytest.raises(DeliveryError, match="refused every recipient") as raised:
        EmailChannel(plain_smtp.config()).send(sample_message())

    assert not raised.value.transient
    assert raised.value.code == 550
    assert plain_smtp.recorder.delivered == []


def test_recipients_refused_for_now_are_a_transient_error(plain_smtp):
    plain_smtp.recorder.refuse = {
        "ops@example.org": "451 4.7.1 Greylisted, try again later",
        "oncall@example.org": "452 4.2.2 Mailbox full",
    }

    with pytest.raises(DeliveryError) as raised:
        EmailChannel(plain_smtp.config()).send(sample_message())

    assert raised.value.transient


def test_one_refused_recipient_does_not_stop_the_others_and_is_on_record(plain_smtp):
    plain_smtp.recorder.refuse = {"oncall@example.org": "550 5.1.1 No such user"}

    result = EmailChannel(plain_smtp.config()).send(sample_message())

    assert plain_smtp.last.envelope.rcpt_tos == ["ops@example.org"]
    assert result.code == 250
    assert "refused: oncall@example.org (550" in result.response


def test_a_temporary_refusal_of_the_data_is_transient(plain_smtp):
    plain_smtp.recorder.data_reply = "451 4.3.0 Queue full, try later"

    with pytest.raises(DeliveryError) as raised:
        EmailChannel(plain_smtp.config()).send(sample_message())

    assert raised.value.transient
    assert raised.value.code == 451


def test_a_permanent_refusal_of_the_data_is_not_retried(plain_smtp):
    plain_smtp.recorder.data_reply = "554 5.7.1 Message rejected as spam"

    with pytest.raises(DeliveryError) as raised:
        EmailChannel(plain_smtp.config()).send(sample_message())

    assert not raised.value.transient
    assert raised.value.code == 554


# -- what is shown ---------------------------------------------------------------------------


def test_the_target_names_user_host_mode_and_recipients():
    channel = EmailChannel(
        {
            "host": "smtp.example.org",
            "port": 587,
            "security": "starttls",
            "username": "user",
            "password": SMTP_PASSWORD,
            "from_email": "dg@example.org",
            "to": ["a@x.org", "b@y.org"],
        }
    )

    assert channel.target() == "smtp://user@smtp.example.org:587 (starttls) -> a@x.org, b@y.org"


def test_no_password_appears_in_the_target_the_error_or_the_logs(
    starttls_smtp, trusting, caplog: pytest.LogCaptureFixture
):
    channel = trusting(login(starttls_smtp, security="starttls", password=WRONG_PASSWORD))

    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    shown = [channel.target(), repr(channel), str(raised.value), raised.value.response]
    assert all(WRONG_PASSWORD not in text for text in shown)
    assert WRONG_PASSWORD not in caplog.text
