"""The channel config schemas refuse what could not be sent, with errors that say which line or
which secret is wrong without repeating it."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework import serializers

from notifications.channels.apprise_urls import AppriseChannel, AppriseConfig
from notifications.channels.webhook import WebhookChannel

GOOD_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def error(channel: type[Any], config: dict[str, Any], field: str) -> str:
    with pytest.raises(serializers.ValidationError) as raised:
        channel.validate_config(config)
    detail = raised.value.detail
    assert isinstance(detail, dict)
    return " ".join(str(message) for message in detail[field])


def webhook(**config: str) -> dict[str, str]:
    return {"url": "https://hooks.example.org/in", **config}


# -- webhook headers -------------------------------------------------------------------------


def test_well_formed_header_lines_are_accepted():
    headers = "Authorization: Bearer abc\n\nX-Team: backups"
    assert WebhookChannel.validate_config(webhook(headers=headers))["headers"] == headers


def test_a_header_line_without_a_colon_is_refused_by_line_number_without_its_content():
    message = error(WebhookChannel, webhook(headers="X-Ok: 1\nBearer sk-live-1234"), "headers")

    assert "Line 2 is not a header" in message
    assert "sk-live-1234" not in message


def test_a_header_name_with_a_space_is_refused():
    message = error(WebhookChannel, webhook(headers="X Team: backups"), "headers")

    assert "Line 1 is not a header" in message


def test_a_header_the_channel_sets_itself_is_refused():
    message = error(WebhookChannel, webhook(headers="webhook-signature: v1,forged"), "headers")

    assert message == "Line 1: DataGuardian sets webhook-signature itself."


def test_a_header_set_twice_is_refused():
    message = error(WebhookChannel, webhook(headers="X-A: 1\nx-a: 2"), "headers")

    assert message == "Line 2: x-a is already set on line 1."


def test_a_header_value_that_is_not_printable_ascii_is_refused():
    message = error(WebhookChannel, webhook(headers="X-A: caf\u00e9"), "headers")

    assert "printable ASCII" in message


# -- webhook secrets -------------------------------------------------------------------------


def test_whsec_secrets_separated_by_spaces_are_accepted():
    other = "whsec_" + base64.b64encode(b"another key").decode()
    config = WebhookChannel.validate_config(webhook(secret=f"  {GOOD_SECRET}   {other} "))

    assert config["secret"] == f"{GOOD_SECRET} {other}"


def test_no_secret_is_accepted():
    assert WebhookChannel.validate_config(webhook())["secret"] == ""


def test_a_secret_without_the_whsec_prefix_is_refused_without_repeating_it():
    message = error(WebhookChannel, webhook(secret="sk_live_0123456789"), "secret")

    assert message.startswith("The secret does not start with whsec_.")
    assert "sk_live_0123456789" not in message


def test_a_secret_that_is_not_base64_after_the_prefix_is_refused():
    message = error(WebhookChannel, webhook(secret="whsec_not*base64!"), "secret")

    assert message.startswith("The secret is not base64 after whsec_.")
    assert "not*base64!" not in message


def test_the_bad_one_of_several_secrets_is_named_by_position():
    message = error(WebhookChannel, webhook(secret=f"{GOOD_SECRET} whsec_@@@"), "secret")

    assert message.startswith("Secret 2 of 2 is not base64 after whsec_.")


def test_an_empty_whsec_secret_is_refused():
    message = error(WebhookChannel, webhook(secret="whsec_"), "secret")

    assert message.startswith("The secret is empty after whsec_.")


def test_a_webhook_url_that_is_not_http_is_refused():
    message = error(WebhookChannel, {"url": "ftp://files.example.org/in"}, "url")

    assert message == "Give an http:// or https:// URL."


# -- apprise URLs ----------------------------------------------------------------------------


def test_apprise_urls_are_accepted_one_per_line_blank_lines_dropped():
    urls = "\n  json://127.0.0.1:8123/alerts  \n\nntfy://ntfy.example.org/backups\n"

    config = AppriseChannel.validate_config({"urls": urls})

    assert config["urls"] == "json://127.0.0.1:8123/alerts\nntfy://ntfy.example.org/backups"


def test_apprise_urls_of_blank_lines_only_are_refused():
    message = error(AppriseChannel, {"urls": " \n\n "}, "urls")

    assert message == "This field may not be blank."


def test_the_apprise_url_check_itself_wants_at_least_one_line():
    with pytest.raises(serializers.ValidationError, match="at least one Apprise URL"):
        AppriseConfig().validate_urls("\n \n")


def test_an_unknown_apprise_service_is_refused_naming_its_line():
    urls = "ntfy://ntfy.example.org/backups\nbogus://token-8812@x"

    message = error(AppriseChannel, {"urls": urls}, "urls")

    assert message == "Line 2: bogus:// is not a service Apprise knows."


def test_an_apprise_url_missing_its_parts_is_refused_naming_its_line_without_its_tokens():
    urls = "json://127.0.0.1/ok\ntgram://not-a-bot-token-4471/"

    message = error(AppriseChannel, {"urls": urls}, "urls")

    assert message.startswith("Line 2: Apprise cannot use this tgram:// URL")
    assert "not-a-bot-token-4471" not in message


def test_a_line_that_is_not_a_url_is_refused_naming_its_line():
    message = error(AppriseChannel, {"urls": "just some words"}, "urls")

    assert message == "Line 1 is not a URL (service://…)."
