"""Keeping connection secrets out of what a run records: its error message, stack and logs."""

from __future__ import annotations

import traceback
from collections.abc import Sequence

from core.logging import redact
from executions.models import BackupExecution


def secrets_of(execution: BackupExecution) -> list[str]:
    """The secret values a run works with: its datasource's, for a restore also those of the
    backup's own datasource, and its storage location's (values under 3 characters are left
    out: masking them would garble every message)."""
    datasources = [execution.datasource]
    if execution.source_execution is not None:
        datasources.append(execution.source_execution.datasource)
    values: list[object] = []
    for datasource in datasources:
        values += [datasource.connection_config.get(k) for k in datasource.engine.secret_fields]
    location = execution.storage_location
    values += [location.config.get(k) for k in location.adapter.secret_fields]
    return [v for v in values if isinstance(v, str) and len(v) >= 3]


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return redact(text)


def failure_text(
    exc: BaseException, secrets: Sequence[str], known: tuple[type[BaseException], ...] = ()
) -> tuple[str, str]:
    """The message and the stack recorded for a failure, scrubbed. An error of ours (one of
    ``known``) already says what went wrong; anything else is named by its type too."""
    message = str(exc) if isinstance(exc, known) else f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(exc))
    return scrub(message, secrets), scrub(stack, secrets)
