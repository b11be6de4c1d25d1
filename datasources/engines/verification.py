"""What an engine gives a verification: a scratch target, and what was found in it.

The engine creates the target, restores into it (its ``restore``) and inspects it: counts of
tables, rows or files, checks of its own (SQLite's integrity check, files readable to their
end) and the operator's assertions. ``executions.verification`` compares the counts with what
the backup recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Scratch databases are named with this prefix and random hex digits.
SCRATCH_PREFIX = "dgverify_"
#: A user assertion runs at most this long in the scratch target.
ASSERTION_TIMEOUT_SECONDS = 60
FALSY = {"", "0", "f", "false", "no", "null", "none"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Inspection:
    """What the engine found in the restored copy. A count left None is not compared."""

    tables: int | None = None
    rows: int | None = None
    files: int | None = None
    #: The engine's own checks, shown before the count checks.
    checks: list[Check] = field(default_factory=list)
    #: One check per assertion, in the order given.
    assertions: list[Check] = field(default_factory=list)
    #: Per-collection (or per-table) counts, recorded with the verification.
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scratch:
    """Where the backup is restored for the check (``config``), and how to inspect it:
    ``inspect(restored_config, assertions)``, ``restored_config`` being ``config`` updated
    with what the restore returned."""

    config: dict[str, Any]
    inspect: Callable[[dict[str, Any], list[str]], Inspection]
    secrets: list[str] = field(default_factory=list)


def truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in FALSY
    return bool(value)


def assertion_check(name: str, assertion: str, rows: list[tuple[Any, ...]]) -> Check:
    """An assertion passes when it returned one row of one truthy value."""
    if len(rows) != 1 or len(rows[0]) != 1:
        return Check(name, False, f"{assertion!r} must return one value, not {len(rows)} rows.")
    value = rows[0][0]
    return Check(name, truthy(value), f"{assertion!r} returned {value!r}.")


def scratch_secrets(*values: object) -> list[str]:
    """The secrets of a scratch target worth masking (a password of 3 characters or more)."""
    return [str(v) for v in values if v and len(str(v)) >= 3]
