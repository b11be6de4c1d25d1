"""docs/NOTIFICATIONS.md stays true: its receiver snippet verifies what the webhook channel sends,
its worked signature example is what the channel computes, and its example configs validate."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from notifications.channels import CHANNELS
from notifications.channels.webhook import WebhookChannel
from tests.support.loopback import Receiver, sample_message

DOC = Path(__file__).resolve().parents[2] / "docs" / "NOTIFICATIONS.md"
SECRET = "whsec_" + base64.b64encode(b"a receiver's shared key, 32 bytes").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some other key").decode()


def marked_block(marker: str, language: str) -> str:
    """The ```language block right after ``<!-- marker -->`` in the doc."""
    text = DOC.read_text()
    match = re.search(rf"<!-- {re.escape(marker)} -->\s*```{language}\n(.*?)```", text, re.S)
    assert match, f"docs/NOTIFICATIONS.md has no {language} block marked {marker}"
    return match.group(1)


@pytest.fixture(scope="module")
def verify() -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(marked_block("webhook-receiver", "python"), namespace)  # noqa: S102 - our own doc
    function: Callable[..., bool] = namespace["verify"]
    return function


def signed_headers(request: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in request.header_items()}


def test_the_receiver_snippet_is_at_most_ten_lines():
    assert len(marked_block("webhook-receiver", "python").strip().splitlines()) <= 10


def test_the_receiver_snippet_accepts_a_request_the_channel_sent(receiver: Receiver, verify):
    WebhookChannel({"url": receiver.url(), "secret": SECRET}).send(sample_message())

    assert verify(SECRET, receiver.last.headers, receiver.last.body)


def test_the_receiver_snippet_accepts_either_secret_while_rotating(receiver: Receiver, verify):
    WebhookChannel({"url": receiver.url(), "secret": f"{OTHER_SECRET} {SECRET}"}).send(
        sample_message()
    )

    assert verify(SECRET, receiver.last.headers, receiver.last.body)
    assert verify(OTHER_SECRET, receiver.last.headers, receiver.last.body)


def test_the_receiver_snippet_refuses_an_altered_body(receiver: Receiver, verify):
    WebhookChannel({"url": receiver.url(), "secret": SECRET}).send(sample_message())

    altered = receiver.last.body.replace(b"critical", b"info")
    assert not verify(SECRET, receiver.last.headers, altered)


def test_the_receiver_snippet_refuses_another_secret(receiver: Receiver, verify):
    WebhookChannel({"url": receiver.url(), "secret": SECRET}).send(sample_message())

    assert not verify(OTHER_SECRET, receiver.last.headers, receiver.last.body)


def test_the_receiver_snippet_refuses_an_old_request(verify):
    channel = WebhookChannel({"url": "https://hooks.example.org/in", "secret": SECRET})
    request = channel.request(sample_message(), timestamp=int(time.time()) - 3600)

    assert isinstance(request.data, bytes)
    assert not verify(SECRET, signed_headers(request), request.data)


def test_the_worked_signature_example_is_what_the_channel_computes():
    lines = marked_block("webhook-signature-example", "text").strip().splitlines()
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in lines)
    payload = json.loads(rows["body"])
    channel = WebhookChannel({"url": "https://hooks.example.org/in", "secret": rows["secret"]})

    request = channel.request(
        sample_message(id=rows["webhook-id"], payload=payload),
        timestamp=int(rows["webhook-timestamp"]),
    )

    assert request.data == rows["body"].encode()
    assert (
        rows["signed content"] == f"{rows['webhook-id']}.{rows['webhook-timestamp']}.{rows['body']}"
    )
    assert signed_headers(request)["webhook-signature"] == rows["webhook-signature"]


def test_every_example_channel_in_the_doc_validates():
    channels = section_examples()

    assert {example["type"] for example in channels} == {"email", "webhook", "apprise"}
    for example in channels:
        CHANNELS.get(example["type"]).validate_config(example["config"])


def section_examples() -> list[dict[str, Any]]:
    """The example channels: the JSON blocks of the section ``## Channels``."""
    channels = DOC.read_text().partition("## Channels")[2].partition("\n## ")[0]
    blocks = re.findall(r"```json\n(.*?)```", channels, re.S)
    return [json.loads(block) for block in blocks]
