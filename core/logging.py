"""Log formatting (text or JSON lines), the context a line carries (which execution, which
job) and the filter that keeps secrets out of logs."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: What a log line may say it is about, in the order the text format shows them.
CONTEXT_FIELDS = ("execution", "job")
_context: ContextVar[dict[str, str] | None] = ContextVar("log_context", default=None)

# key=value, "key": "value" and URL credentials (scheme://user:secret@host).
_CREDENTIAL_WORDS = (
    r"password|passwd|pwd|secret|secret_key|secret_access_key|application_key|private_key|"
    r"token|api_key|passphrase"
)
_PATTERNS = [
    re.compile(rf"(?i)(\b\w*(?:{_CREDENTIAL_WORDS})\b\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"),
    re.compile(rf"(?i)(\"(?:{_CREDENTIAL_WORDS})\"\s*:\s*)(\"[^\"]*\")"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@/\s]+)(@)"),
]


def redact(text: str) -> str:
    """Mask anything in ``text`` that looks like a credential."""
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + "********" + (m.group(3) if m.lastindex == 3 else ""), text
        )
    return text


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Every line logged inside the block (in this thread or task) carries ``fields``, e.g.
    ``execution=`` and ``job=``; a value passed with ``extra=`` wins. ``None`` adds nothing."""
    added = {key: str(value) for key, value in fields.items() if value is not None}
    token = _context.set({**(_context.get() or {}), **added})
    try:
        yield
    finally:
        _context.reset(token)


def context_of(record: logging.LogRecord) -> dict[str, str]:
    """The context fields ``record`` carries, in ``CONTEXT_FIELDS`` order."""
    return {
        key: str(value)
        for key in CONTEXT_FIELDS
        if (value := getattr(record, key, None)) is not None
    }


class ContextFilter(logging.Filter):
    """Copies the current ``log_context`` onto each record, for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in context_of(record).items():
            setattr(record, key, redact(value))
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _text_value(value: str) -> str:
    return json.dumps(value) if not value or re.search(r'[\s"=]', value) else value


class TextFormatter(logging.Formatter):
    """One line a person reads: time, level, logger, message, then ``execution=<id>
    job=<name>`` when the line is about one; a traceback follows on its own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(f"{k}={_text_value(v)}" for k, v in context_of(record).items())
        return f"{line}  {context}" if context else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the context fields
    (``execution``, ``job``) when present and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(data, default=str)
