"""What a verification checks, and the pieces every scratch target shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core import system_settings
from executions.models import BackupExecution

SCRATCH_PREFIX = "dgverify_"
# The restored rows may fall this far below the backup's estimate before the check fails.
ROW_TOLERANCE = 0.5
# A user assertion runs at most this long in the scratch database.
ASSERTION_TIMEOUT_SECONDS = 60
FALSY = {"", "0", "f", "false", "no", "null", "none"}


class VerificationRefused(Exception):
    """The execution cannot be verified (not a completed backup)."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Scratch:
    """Where the backup is restored for the check, and how to inspect it there."""

    config: dict[str, Any]
    inspect: Callable[[BackupExecution, dict[str, Any], list[str]], list[Check]]
    secrets: list[str] = field(default_factory=list)


def server_of(backup: BackupExecution, key: str) -> tuple[dict[str, Any], str]:
    """The verification server's connection (without database) and the database to connect
    to for creating and dropping the scratch one."""
    configured = system_settings.get(key)
    if configured:
        server = dict(configured)
        return server, str(server.pop("maintenance_database", "") or "postgres")
    own = dict(backup.datasource.connection_config)
    return own, str(own["database"])


def checks_of_counts(
    backup: BackupExecution, tables: int, rows: int, assertion_checks: list[Check]
) -> list[Check]:
    recorded_tables = backup.metadata.get("tables_backed_up")
    recorded_rows = int(backup.metadata.get("rows_approximate") or 0)
    checks = [
        Check(
            "table_count",
            recorded_tables is None or tables == int(recorded_tables),
            f"{tables} tables restored; the backup recorded {recorded_tables}.",
        )
    ]
    floor = int(recorded_rows * (1 - ROW_TOLERANCE))
    checks.append(
        Check(
            "row_count",
            rows >= floor,
            f"{rows} rows restored; the backup estimated {recorded_rows} (at least {floor} "
            "expected).",
        )
    )
    return checks + assertion_checks


def truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in FALSY
    return bool(value)


def assertion_check(name: str, assertion: str, rows: list[tuple[Any, ...]]) -> Check:
    if len(rows) != 1 or len(rows[0]) != 1:
        return Check(name, False, f"{assertion!r} must return one value, not {len(rows)} rows.")
    value = rows[0][0]
    ok = truthy(value)
    return Check(name, ok, f"{assertion!r} returned {value!r}.")
