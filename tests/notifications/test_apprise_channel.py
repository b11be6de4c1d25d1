"""AppriseChannel delivering for real to a receiver on loopback through Apprise's json://,
ntfy:// and gotify:// plugins, and failing without giving its URLs away."""

from __future__ import annotations

import json
import logging
import time

import pytest

from notifications.channels.apprise_urls import AppriseChannel
from notifications.channels.base import DeliveryError
from tests.support.loopback import Receiver, free_port, sample_message

GOTIFY_TOKEN = "AbCdEfGhIjKlMnO"
PASSWORD = "pw-8812-secret"
PATH_TOKEN = "tok-5531-path"
HEADER_TOKEN = "hdr-7712-header"


def json_url(receiver: Receiver, path: str = "/alerts") -> str:
    return f"json://127.0.0.1:{receiver.port}{path}"


def sent(receiver: Receiver) -> dict[str, object]:
    body = json.loads(receiver.last.body)
    assert isinstance(body, dict)
    return body


# -- delivery --------------------------------------------------------------------------------


def test_a_json_url_delivers_the_title_the_text_and_the_type(receiver):
    result = AppriseChannel({"urls": json_url(receiver)}).send(sample_message())

    assert receiver.last.method == "POST"
    assert receiver.last.path == "/alerts"
    body = sent(receiver)
    assert body["title"] == "Backup of shop failed"
    assert body["message"] == sample_message().text
    assert body["type"] == "failure"
    assert "line 1: JSON" in result.response


@pytest.mark.parametrize(
    ("severity", "notify_type"), [("info", "info"), ("warning", "warning"), ("critical", "failure")]
)
def test_the_severity_becomes_the_apprise_notification_type(receiver, severity, notify_type):
    AppriseChannel({"urls": json_url(receiver)}).send(sample_message(severity=severity))

    assert sent(receiver)["type"] == notify_type


def test_an_ntfy_url_publishes_the_title_and_message_to_its_topic(receiver):
    AppriseChannel({"urls": f"ntfy://127.0.0.1:{receiver.port}/backups"}).send(sample_message())

    body = sent(receiver)
    assert body["topic"] == "backups"
    assert body["title"] == "Backup of shop failed"
    assert body["message"] == sample_message().text


def test_a_gotify_url_posts_a_message_with_its_application_token(receiver):
    AppriseChannel({"urls": f"gotify://127.0.0.1:{receiver.port}/{GOTIFY_TOKEN}"}).send(
        sample_message()
    )

    assert receiver.last.path == "/message"
    assert receiver.last.headers["X-Gotify-Key"] == GOTIFY_TOKEN
    body = sent(receiver)
    assert body["title"] == "Backup of shop failed"
    assert body["message"] == sample_message().text


def test_every_line_is_notified(receiver):
    urls = f"{json_url(receiver, '/one')}\n\n  {json_url(receiver, '/two')}  \n"

    AppriseChannel({"urls": urls}).send(sample_message())

    assert sorted(request.path for request in receiver.requests) == ["/one", "/two"]


# -- failures --------------------------------------------------------------------------------


def test_a_receiver_answering_500_is_a_transient_error_naming_the_line(receiver):
    receiver.status_of["/fails"] = 500
    channel = AppriseChannel(
        {"urls": f"{json_url(receiver, '/ok')}\n{json_url(receiver, '/fails')}"}
    )

    with pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    assert raised.value.transient
    assert str(raised.value).startswith("Apprise could not deliver to 1 of 2: line 2 (JSON)")
    assert "error=500" in str(raised.value)


def test_a_service_that_never_answers_times_out_within_the_timeout(receiver):
    receiver.hang = True
    channel = AppriseChannel({"urls": json_url(receiver)}, timeout=1)

    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    assert raised.value.transient
    assert time.monotonic() - started < 5


def test_a_closed_port_is_a_transient_error():
    channel = AppriseChannel({"urls": f"json://127.0.0.1:{free_port()}/alerts"}, timeout=2)

    with pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    assert raised.value.transient


def test_a_url_apprise_does_not_understand_fails_for_good_naming_only_its_line(receiver):
    channel = AppriseChannel({"urls": f"{json_url(receiver)}\nbogus://{PATH_TOKEN}@host/x"})

    with pytest.raises(DeliveryError, match="Line 2") as raised:
        channel.send(sample_message())

    assert not raised.value.transient
    assert PATH_TOKEN not in str(raised.value)
    assert receiver.requests == []


# -- what is shown ---------------------------------------------------------------------------


def test_the_target_shows_each_scheme_and_host_only():
    channel = AppriseChannel(
        {
            "urls": f"ntfy://user:{PASSWORD}@ntfy.example.org/{PATH_TOKEN}\n"
            f"json://127.0.0.1:8123/hooks/{PATH_TOKEN}?+X-Key={HEADER_TOKEN}\n"
            "tgram://123456789:AABBccDDeeFFggHHiiJJ/98765432"
        }
    )

    assert channel.target() == (
        "ntfy://ntfy.example.org/…, json://127.0.0.1:8123/…, tgram://********/…"
    )


def test_no_secret_appears_in_the_target_the_error_or_the_logs(
    receiver, caplog: pytest.LogCaptureFixture
):
    receiver.answer(500, f"{PASSWORD} {PATH_TOKEN} {HEADER_TOKEN} {GOTIFY_TOKEN}".encode())
    urls = (
        f"json://user:{PASSWORD}@127.0.0.1:{receiver.port}/in/{PATH_TOKEN}?+X-Key={HEADER_TOKEN}\n"
        f"gotify://127.0.0.1:{receiver.port}/{GOTIFY_TOKEN}\n"
        f"ntfy://127.0.0.1:{receiver.port}/{PATH_TOKEN}"
    )
    channel = AppriseChannel({"urls": urls}, timeout=2)

    with caplog.at_level(1), pytest.raises(DeliveryError) as raised:
        channel.send(sample_message())

    assert "line 3 (ntfy)" in str(raised.value)
    shown = " ".join([channel.target(), repr(channel), str(raised.value), caplog.text])
    for secret in [PASSWORD, PATH_TOKEN, HEADER_TOKEN, GOTIFY_TOKEN]:
        assert secret not in shown
    assert any(r.name == "apprise" and r.levelno >= logging.WARNING for r in caplog.records)
