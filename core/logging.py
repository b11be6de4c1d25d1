"""Log formatting (text or JSON lines), the context a line carries (which execution, job and
datasource), the filter that keeps secrets out of logs, and the bounded tail of a run's own
lines that is stored with it."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: What a log line may say it is about, in the order the text format shows them.
CONTEXT_FIELDS = ("execution", "job", "datasource")
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
    ``execution=``, ``job=`` and ``datasource=``; a value passed with ``extra=`` wins.
    ``None`` adds nothing."""
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
    job=<name> datasource=<name>`` when the line is about a run; a traceback follows on its
    own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(f"{k}={_text_value(v)}" for k, v in context_of(record).items())
        return f"{line}  {context}" if context else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the context fields
    (``execution``, ``job``, ``datasource``) when present and the exception."""

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


# --- A run's own lines, kept for its record -----------------------------------------------

#: What a run's stored log tail keeps: its newest lines, at most this many (a line with its
#: traceback counts as one) and at most this many bytes of text.
TAIL_LINES = 200
TAIL_BYTES = 64 * 1024
_MASK = "********"


class LogTail:
    """The newest lines logged about one run, within ``TAIL_LINES`` and ``TAIL_BYTES``; the
    oldest go first. Safe to add to from several threads."""

    def __init__(self, seed: str = "", secrets: Iterable[str] = ()) -> None:
        self._lines: deque[tuple[str, int]] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._secrets = [s for s in secrets if s]
        self._changed = False
        for line in seed.splitlines():
            self.add(line)
        self._changed = False

    def add(self, line: str) -> None:
        """Keep ``line``, with any of the run's own secret values masked; a line longer than
        the whole bound keeps its end."""
        for secret in self._secrets:
            line = line.replace(secret, _MASK)
        size = len(line.encode()) + 1
        if size > TAIL_BYTES:
            line = "…" + line[-(TAIL_BYTES // 4 - 2) :]  # at most 4 bytes a character
            size = len(line.encode()) + 1
        with self._lock:
            self._lines.append((line, size))
            self._bytes += size
            while len(self._lines) > TAIL_LINES or self._bytes > TAIL_BYTES:
                self._bytes -= self._lines.popleft()[1]
            self._changed = True

    def text(self) -> str:
        with self._lock:
            return "\n".join(line for line, _ in self._lines)

    def changes(self) -> str | None:
        """The text if lines came since the last call (for a periodic write), else None."""
        with self._lock:
            if not self._changed:
                return None
            self._changed = False
        return self.text()


_tails: dict[str, tuple[LogTail, int]] = {}
_tails_lock = threading.Lock()


@contextlib.contextmanager
def collect_tail(
    execution: object, seed: str = "", secrets: Iterable[str] = ()
) -> Iterator[LogTail]:
    """While the block runs, every line at INFO and above that carries ``execution=<id>``
    (from ``log_context``, in whatever thread or task of this process) is added, secrets
    masked, to the returned ``LogTail``. A nested collection of the same run shares it."""
    key = str(execution)
    _install()
    with _tails_lock:
        tail, users = _tails.get(key) or (LogTail(seed, secrets), 0)
        _tails[key] = (tail, users + 1)
    try:
        yield tail
    finally:
        with _tails_lock:
            tail, users = _tails[key]
            if users > 1:
                _tails[key] = (tail, users - 1)
            else:
                del _tails[key]


def tail_of(execution: object) -> LogTail | None:
    """The tail being collected for ``execution`` in this process, if any."""
    entry = _tails.get(str(execution))
    return entry[0] if entry else None


class TailFormatter(logging.Formatter):
    """A tail's line: the text format without the context fields (they are the run's own)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")


class TailHandler(logging.Handler):
    """Adds each record about a run whose tail is being collected to that tail. One sits on
    the root logger (``settings.LOGGING``, or put there by the first ``collect_tail``); it
    masks secrets with the same filter as the console."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.addFilter(ContextFilter())
        self.addFilter(RedactSecretsFilter())
        self.setFormatter(TailFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        execution = getattr(record, "execution", None)
        tail = tail_of(execution) if execution is not None and _tails else None
        if tail is None:
            return
        try:
            tail.add(self.format(record))
        except Exception:
            self.handleError(record)


def _install() -> None:
    root = logging.getLogger()
    if not any(isinstance(handler, TailHandler) for handler in root.handlers):
        root.addHandler(TailHandler())
