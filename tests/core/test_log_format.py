"""Log lines: text for a person, JSON for a collector; both say which execution and job a line
is about, and neither shows a secret."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from core.logging import (
    ContextFilter,
    JsonFormatter,
    RedactSecretsFilter,
    TextFormatter,
    log_context,
)
from tests.support.processes import run_python

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO |WARNING|ERROR) +[\w.]+: .+")


def _record(
    msg: str, *args: object, level: int = logging.INFO, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("executions.backup", level, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    for each in (ContextFilter(), RedactSecretsFilter()):
        each.filter(record)
    return record


def test_a_text_line_has_time_level_logger_and_message():
    line = TextFormatter().format(_record("Backup %s started", "b-1"))

    assert TEXT_LINE.fullmatch(line), line
    assert line.endswith(" INFO    executions.backup: Backup b-1 started")


def test_lines_logged_inside_a_log_context_name_the_execution_and_the_job():
    with log_context(execution="e-42", job="nightly shop"):
        record = _record("Backup failed: %s", "disk full", level=logging.WARNING)
    outside = _record("no context here")

    text = TextFormatter().format(record)
    data = json.loads(JsonFormatter().format(record))

    assert text.endswith('Backup failed: disk full  execution=e-42 job="nightly shop"')
    assert data["execution"] == "e-42"
    assert data["job"] == "nightly shop"
    assert "execution" not in json.loads(JsonFormatter().format(outside))
    assert "execution=" not in TextFormatter().format(outside)


def test_contexts_nest_and_a_value_given_with_extra_wins():
    with log_context(job="shop"), log_context(execution="e-1"):
        nested = _record("x")
        explicit = _record("y", execution="e-2")

    assert TextFormatter().format(nested).endswith("x  execution=e-1 job=shop")
    assert TextFormatter().format(explicit).endswith("y  execution=e-2 job=shop")


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_secrets_are_masked_in_either_format(formatter):
    with log_context(job="password=hunter2"):
        record = _record("connect redis://u:%s@r:6379/0", "hunter2")
    try:
        raise ValueError("token=hunter2")
    except ValueError:
        record.exc_info = sys.exc_info()
        RedactSecretsFilter().filter(record)

    line = formatter.format(record)

    assert "hunter2" not in line
    assert "********" in line


# --- the configured handler, in a fresh interpreter ----------------------------------------

PROBE = (
    "import logging, django; django.setup();"
    "from core.logging import log_context;"
    "log = logging.getLogger('executions.tasks');"
    "ctx = log_context(execution='e-7', job='shop'); ctx.__enter__();"
    "log.warning('backup failed: password=%s', 'hunter2')"
)


def _probe(tmp_path: Path, **env: str) -> str:
    result = run_python(
        PROBE,
        drop=("DATABASE_URL", "REDIS_URL", "DATAGUARDIAN_", "LOG_", "DEBUG"),
        env={"DATAGUARDIAN_DATA_DIR": str(tmp_path / "data"), **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip()


def test_the_embedded_default_logs_text_lines(tmp_path):
    line = _probe(tmp_path)

    assert TEXT_LINE.fullmatch(line), line
    assert line.endswith(
        "WARNING executions.tasks: backup failed: password=********  execution=e-7 job=shop"
    )


def test_json_lines_carry_the_same_fields(tmp_path):
    data = json.loads(_probe(tmp_path, LOG_FORMAT="json"))

    assert data["message"] == "backup failed: password=********"
    assert (data["level"], data["logger"], data["execution"], data["job"]) == (
        "WARNING",
        "executions.tasks",
        "e-7",
        "shop",
    )
