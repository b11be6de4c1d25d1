"""Fixtures of the observability tests: a client that may read /metrics, a captured console in
either format, and a small directory."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client

from core.logging import ContextFilter, JsonFormatter, RedactSecretsFilter, TextFormatter

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def scrape(settings):
    """GET /metrics with the configured bearer token; returns the body as text."""
    settings.METRICS_TOKEN = TOKEN
    client = Client(REMOTE_ADDR="203.0.113.9")

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content[:200]
        return response.content.decode()

    return get


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
