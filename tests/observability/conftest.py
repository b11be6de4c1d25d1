"""Fixtures of the log tests: a captured console in either format, real small sources."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.logging import ContextFilter, JsonFormatter, RedactSecretsFilter, TextFormatter


@pytest.fixture
def console() -> Iterator[Callable[[str], io.StringIO]]:
    """``console("text")`` or ``console("json")``: a stream receiving every log line as the
    configured console writes it (its filters, the real formatter)."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = []

    def attach(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setLevel(logging.INFO)
        handler.addFilter(ContextFilter())
        handler.addFilter(RedactSecretsFilter())
        handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
        root.addHandler(handler)
        handlers.append(handler)
        return stream

    yield attach
    for handler in handlers:
        root.removeHandler(handler)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small directory for a files backup."""
    directory = tmp_path / "source"
    directory.mkdir()
    (directory / "a.txt").write_text("some data\n" * 100)
    (directory / "b.bin").write_bytes(bytes(range(256)) * 64)
    return directory
