"""Read-only panels of an execution's page: manifest, verification, restores, error, log."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin_forms import status_badge
from core.display import EMPTY, human_size, zoned_time
from executions.artifact import read_manifest
from executions.models import BackupExecution

logger = logging.getLogger(__name__)

#: Lines of the error's stack shown; the start of a Python traceback is the least telling.
LOG_TAIL_LINES = 40


def execution_url(execution_id: object) -> str:
    return reverse("admin:executions_backupexecution_change", args=[execution_id])


def _table(rows: Iterable[tuple[Any, Any]]) -> SafeString:
    body = format_html_join("", "<tr><th class='pr-4 text-left'>{}</th><td>{}</td></tr>", rows)
    return format_html("<table class='text-sm'>{}</table>", body)


def _text(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={item}" for key, item in value.items()) or EMPTY
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or EMPTY
    return str(value)


def manifest_panel(execution: BackupExecution) -> SafeString:
    """``manifest.json`` as stored with the backup, as a table; the chunks are listed below
    it (the chunks inline) with their checksums."""
    if execution.kind != BackupExecution.Kind.BACKUP or not execution.backup_path:
        return format_html("{}", EMPTY)
    location = execution.storage_location
    try:
        manifest = read_manifest(location.adapter(location.config), execution)
    except Exception as exc:  # storage down or the file gone: say so, show the rest
        logger.info("Manifest of %s unreadable: %s", execution.pk, exc)
        return format_html("The stored manifest could not be read: {}", exc)
    engine = manifest.get("engine") or {}
    compression = manifest.get("compression") or {}
    chunks = manifest.get("chunks") or []
    rows = [
        ("Format version", _text(manifest.get("format_version"))),
        ("Job", _text((manifest.get("job") or {}).get("name"))),
        ("Datasource", _text((manifest.get("datasource") or {}).get("name"))),
        ("Engine", _text(engine.get("type"))),
        ("Database version", _text(engine.get("database_version"))),
        ("Tool version", _text(engine.get("tool_version"))),
        ("Artifact format", _text(engine.get("artifact_format"))),
        (
            "Compression",
            f"{_text(compression.get('algorithm'))} (level {_text(compression.get('level'))})",
        ),
        ("Size", human_size(manifest.get("size_bytes"))),
        ("Stored size", human_size(manifest.get("compressed_size_bytes"))),
        ("SHA-256", _text(manifest.get("sha256"))),
        ("Chunks", str(len(chunks))),
        ("Options", _text(manifest.get("options"))),
        ("Written at", _text(manifest.get("created_at"))),
    ]
    return _table(rows)


def verification_panel(execution: BackupExecution) -> SafeString:
    """``metadata.verification``: the outcome of the last verification, or its queued
    marker."""
    metadata = execution.metadata if isinstance(execution.metadata, dict) else {}
    result = metadata.get("verification")
    if not isinstance(result, Mapping):
        return format_html("{}", "Not verified yet.")
    state = str(result.get("status", "unknown"))
    colour = {"passed": "completed", "failed": "failed"}.get(state, state)
    rows: list[tuple[Any, Any]] = [("Result", status_badge(colour, state))]
    rows += [
        (key.replace("_", " ").capitalize(), _text(value))
        for key, value in result.items()
        if key not in {"status", "log"}
    ]
    log = result.get("log")
    return format_html(
        "{}{}",
        _table(rows),
        log_block(str(log), "verification-log") if log else "",
    )


def log_block(text: str, element_id: str) -> SafeString:
    """Log lines as they were logged (secrets already masked), in a scrolling block."""
    return format_html(
        "<pre id='{}' class='text-xs overflow-auto max-h-96 whitespace-pre'>{}</pre>",
        element_id,
        text,
    )


def log_panel(execution: BackupExecution) -> SafeString:
    """The run's own log tail (``log_tail``): its newest lines, INFO and above."""
    if not execution.log_tail:
        return format_html("{}", "No log lines recorded.")
    return log_block(execution.log_tail, "execution-log")


def restore_history(execution: BackupExecution, zone: str) -> SafeString:
    """The restores made from this backup, newest first, each linked to its page."""
    restores = list(execution.restores.select_related("datasource").order_by("-created_at"))
    if not restores:
        return format_html("{}", "Never restored.")
    rows = format_html_join(
        "",
        "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                execution_url(restore.pk),
                zoned_time(restore.created_at, zone),
                status_badge(restore.status, restore.get_status_display()),
                restore.datasource.name,
                (restore.metadata or {}).get("target_path") or "",
            )
            for restore in restores
        ),
    )
    return format_html(
        "<table id='restore-history' class='text-sm'><tr><th>When</th><th>Status</th>"
        "<th>Into</th><th>Path</th></tr>{}</table>",
        rows,
    )


def error_panel(execution: BackupExecution) -> SafeString:
    """The error (already free of secrets: ``executions.secrets`` scrubs it before it is
    stored) and the tail of its stack."""
    if not execution.error_message and not execution.error_stack:
        return format_html("{}", EMPTY)
    lines = (execution.error_stack or "").splitlines()[-LOG_TAIL_LINES:]
    return format_html(
        "<p id='execution-error'>{}</p>{}",
        execution.error_message or "",
        format_html("<pre class='text-xs overflow-auto'>{}</pre>", "\n".join(lines))
        if lines
        else "",
    )
