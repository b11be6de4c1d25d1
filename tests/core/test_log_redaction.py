"""Secrets are masked in log lines."""

from __future__ import annotations

import logging

import pytest

from core.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    "line",
    [
        "connecting with password=hunter2 to db",
        'config {"secret_access_key": "hunter2", "bucket": "b"}',
        "broker redis://user:hunter2@redis:6379/0 down",
        "PGPASSWORD: hunter2",
    ],
)
def test_a_credential_in_a_log_line_is_masked(line):
    cleaned = redact(line)
    assert "hunter2" not in cleaned
    assert "********" in cleaned


def test_ordinary_text_is_left_alone():
    assert redact("backup of shop finished in 12 s") == "backup of shop finished in 12 s"


def test_the_logging_filter_masks_formatted_arguments():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "auth failed: password=%s", ("hunter2",), None
    )
    RedactSecretsFilter().filter(record)
    assert "hunter2" not in record.getMessage()
