"""Log formatting and the filter that keeps secrets out of logs."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

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


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(data, default=str)
