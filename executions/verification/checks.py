"""What a verification checks: the engine's inspection against the backup's own record."""

from __future__ import annotations

from typing import Any

from core import system_settings
from datasources.engines.verification import Check, Inspection
from executions.models import BackupExecution

# The restored rows may fall this far below the backup's estimate before the check fails.
ROW_TOLERANCE = 0.5


class VerificationRefused(Exception):
    """The execution cannot be verified (not a completed backup)."""


def scratch_server(backup: BackupExecution) -> dict[str, Any]:
    """The server a scratch target is made on: the engine's verification setting when set,
    else the backup's own datasource connection."""
    engine = backup.datasource.engine
    configured = (
        system_settings.get(engine.scratch_server_setting)
        if engine.scratch_server_setting
        else None
    )
    return dict(configured) if configured else dict(backup.datasource.connection_config)


def checks_of(backup: BackupExecution, found: Inspection) -> list[Check]:
    """The checks of a verification, in the order shown: the file count, the engine's own,
    the table and row counts, then the assertions."""
    checks: list[Check] = []
    if found.files is not None:
        expected = backup.files_count
        checks.append(
            Check(
                "file_count",
                expected is None or found.files == expected,
                f"{found.files} files restored; the backup recorded {expected}.",
            )
        )
    checks += found.checks
    if found.tables is not None:
        recorded_tables = backup.metadata.get("tables_backed_up")
        checks.append(
            Check(
                "table_count",
                recorded_tables is None or found.tables == int(recorded_tables),
                f"{found.tables} tables restored; the backup recorded {recorded_tables}.",
            )
        )
    if found.rows is not None:
        recorded_rows = int(backup.metadata.get("rows_approximate") or 0)
        floor = int(recorded_rows * (1 - ROW_TOLERANCE))
        checks.append(
            Check(
                "row_count",
                found.rows >= floor,
                f"{found.rows} rows restored; the backup estimated {recorded_rows} (at least "
                f"{floor} expected).",
            )
        )
    return checks + found.assertions
