"""WebhookChannel against a real HTTP receiver on loopback: the body, the Standard Webhooks
signature (checked here with an implementation of its own), the headers, and the failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest

from notifications.channels.base import DeliveryError
from notifications.channels.webhook import WebhookChannel
from tests.support.loopback import (
    Receiver,
    free_port,
    http_receiver,
    sample_message,
)

SECRET = "whsec_" + base64.b64encode(b"k" * 24 + b"\x00\xff\x10webhook-key").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the previous key, still valid").decode()
TOKEN = "Bearer tok-7f3a9c2e41d8"


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks v1, written from the spec: HMAC-SHA256 over "id.timestamp.body"."""
    key = base64.b64decode(secret[len("whsec_") :])
    digest = hmac.new(
        key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256
    )
    return "v1," + base64.b64encode(digest.digest()).decode()


def channel(receiver: Receiver, **config: str) -> WebhookChannel:
    return WebhookChannel({"url": receiver.url(), "secret": "", "headers": "", **config})


# -- what is sent ----------------------------------------------------------------------------


def test_the_payload_arrives_as_compact_sorted_json(receiver):
    channel(receiver).send(sample_message())

    request = receiver.last
    assert request.method == "POST"
    assert request.path == "/hook"
    assert (
        request.body
        == json.dumps(sample_message().payload, separators=(",", ":"), sort_keys=True).encode()
    )
    assert json.loads(request.body) == sample_message().payload


def test_the_request_is_json_from_dataguardian(receiver):
    channel(receiver).send(sample_message())

    assert receiver.last.headers["Content-Type"] == "application/json"
    assert receiver.last.headers["User-Agent"] == "DataGuardian"


def test_the_signature_verifies_with_an_independent_implementation(receiver):
    before = int(time.time())
    channel(receiver, secret=SECRET).send(sample_message())

    headers = receiver.last.headers
    assert headers["webhook-id"] == sample_message().id
    assert before <= int(headers["webhook-timestamp"]) <= time.time()
    assert headers["webhook-signature"] == expected_signature(
        SECRET, headers["webhook-id"], headers["webhook-timestamp"], receiver.last.body
    )


def test_two_secrets_give_two_signatures_that_both_verify(receiver):
    channel(receiver, secret=f"{SECRET} {OLD_SECRET}").send(sample_message())

    headers = receiver.last.headers
    signed = (headers["webhook-id"], headers["webhook-timestamp"], receiver.last.body)
    assert headers["webhook-signature"].split(" ") == [
        expected_signature(SECRET, *signed),
        expected_signature(OLD_SECRET, *signed),
    ]


def test_without_a_secret_there_is_no_signature_header(receiver):
    channel(receiver).send(sample_message())

    assert receiver.last.headers["webhook-signature"] is None
    assert receiver.last.headers["webhook-id"] == sample_message().id


def test_the_webhook_id_is_the_same_on_every_attempt(receiver):
    webhook = channel(receiver, secret=SECRET)
    webhook.send(sample_message())
    webhook.send(sample_message())

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == sample_message().id


def test_extra_headers_arrive(receiver):
    channel(receiver, headers=f"Authorization: {TOKEN}\n\nX-Team:  backups ").send(sample_message())

    assert receiver.last.headers["Authorization"] == TOKEN
    assert receiver.last.headers["X-Team"] == "backups"


def test_a_user_and_password_in_the_url_are_sent_as_basic_auth(receiver):
    WebhookChannel({"url": receiver.url(userinfo="hook:s3cr%40t@")}).send(sample_message())

    expected = base64.b64encode(b"hook:s3cr@t").decode()
    assert receiver.last.headers["Authorization"] == f"Basic {expected}"


def test_the_query_string_is_kept(receiver):
    WebhookChannel({"url": receiver.url("/hook?token=abc&team=ops")}).send(sample_message())

    assert receiver.last.path == "/hook?token=abc&team=ops"


# -- answers ---------------------------------------------------------------------------------


def test_a_2xx_answer_is_the_result_with_the_start_of_the_body(receiver):
    receiver.answer(202, b"queued " + b"x" * 2000)

    result = channel(receiver).send(sample_message())

    assert result.code == 202
    assert result.response.startswith("queued xxx")
    assert len(result.response) == 500


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_an_answer_worth_a_retry_is_a_transient_error_with_its_code(receiver, status):
    receiver.answer(status, b"try again later")

    with pytest.raises(DeliveryError) as raised:
        channel(receiver).send(sample_message())

    assert raised.value.transient
    assert raised.value.code == status
    assert raised.value.response == "try again later"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_another_client_error_is_a_permanent_error(receiver, status):
    receiver.answer(status, b'{"error":"bad request"}')

    with pytest.raises(DeliveryError) as raised:
        channel(receiver).send(sample_message())

    assert not raised.value.transient
    assert raised.value.code == status


def test_a_redirect_is_not_followed_and_the_error_says_where_it_pointed(receiver):
    with http_receiver() as elsewhere:
        receiver.answer(302, Location=elsewhere.url("/other?key=hunter2"))

        with pytest.raises(DeliveryError) as raised:
            channel(receiver, secret=SECRET).send(sample_message())

    assert not raised.value.transient
    assert raised.value.code == 302
    assert f"127.0.0.1:{elsewhere.port}/other?key=********" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert elsewhere.requests == []


def test_a_receiver_that_never_answers_times_out_within_the_timeout(receiver):
    receiver.hang = True
    webhook = WebhookChannel({"url": receiver.url()}, timeout=1)

    started = time.monotonic()
    with pytest.raises(DeliveryError, match="within 1 s") as raised:
        webhook.send(sample_message())

    assert raised.value.transient
    assert time.monotonic() - started < 5
    assert len(receiver.requests) == 1


def test_a_closed_port_is_a_transient_error():
    webhook = WebhookChannel({"url": f"http://127.0.0.1:{free_port()}/hook"})

    with pytest.raises(DeliveryError, match=r"Could not reach 127\.0\.0\.1:") as raised:
        webhook.send(sample_message())

    assert raised.value.transient


# -- what is shown ---------------------------------------------------------------------------


def test_the_target_masks_userinfo_and_query_values_and_says_signed():
    webhook = WebhookChannel(
        {"url": "https://hook:pw123@hooks.example.org/in/dg?token=abc&v=2", "secret": SECRET}
    )

    assert (
        webhook.target()
        == "https://********@hooks.example.org/in/dg?token=********&v=******** (signed)"
    )


def test_an_unsigned_target_does_not_say_signed():
    assert WebhookChannel({"url": "https://hooks.example.org/in"}).target() == (
        "https://hooks.example.org/in"
    )


def test_no_secret_appears_in_the_target_the_errors_or_the_logs(
    receiver, caplog: pytest.LogCaptureFixture
):
    webhook = WebhookChannel(
        {
            "url": receiver.url("/hook?token=qs-secret-991", userinfo="hook:url-pass-4471@"),
            "secret": f"{SECRET} {OLD_SECRET}",
            "headers": f"Authorization: {TOKEN}",
        }
    )
    # A receiver that echoes what it got back in its error page.
    receiver.answer(500, f"{TOKEN} url-pass-4471 {SECRET}".encode())

    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as raised:
        webhook.send(sample_message())

    shown = " ".join(
        [webhook.target(), repr(webhook), str(raised.value), raised.value.response, caplog.text]
    )
    for secret in [SECRET, OLD_SECRET, TOKEN, "url-pass-4471", "qs-secret-991"]:
        assert secret not in shown
