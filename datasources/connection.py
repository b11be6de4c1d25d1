"""Testing a datasource's connection settings before they are saved.

The API and the admin both refuse settings that do not connect (unless the operator insists,
in the admin); both call :func:`test_connection` here, so they judge a configuration the same
way. Nothing is recorded: a health check row belongs to a saved datasource, and the settings
tested may never be saved.
"""

from __future__ import annotations

import re
from typing import Any

from datasources.engines import ENGINES
from datasources.engines.base import EngineError, HealthResult
from datasources.engines.process import mask

#: Seconds a connection test of a create or update may take.
TEST_TIMEOUT_SECONDS = 10.0

UNREACHABLE = "Unreachable"
AUTH_FAILED = "Authentication failed"
MISSING = "Missing"
PERMISSION_DENIED = "Permission denied"
ERROR = "Error"

# What the tools say when the thing named does not exist (PostgreSQL's and MySQL's "database
# ... does not exist" / "Unknown database", a files or SQLite path that is not there). The
# health statuses fold these into ``unreachable`` or ``error``; an operator fixes them
# differently (create it, or correct the name), so the admin names them apart.
_MISSING = re.compile(r"does not exist|unknown database|no such file", re.IGNORECASE)
_DENIED = re.compile(r"permission denied|access denied for user .* to database", re.IGNORECASE)


def test_connection(type_name: str, config: dict[str, Any]) -> HealthResult:
    """The engine's check of ``config``; never raises, never returns a secret."""
    engine = ENGINES.get(type_name)
    secrets = [str(config.get(key) or "") for key in engine.secret_fields]
    checker = engine()
    try:
        # The settings may well be right, but nothing could be backed up with them here.
        checker.require_tools()
    except EngineError as exc:
        return HealthResult("error", error_message=str(exc))
    try:
        result: HealthResult = checker.check_health(config, TEST_TIMEOUT_SECONDS)
    except NotImplementedError as exc:
        return HealthResult("error", error_message=str(exc))
    except Exception as exc:
        return HealthResult("error", error_message=mask(f"{type(exc).__name__}: {exc}", secrets))
    result.error_message = mask(result.error_message, secrets)
    return result


def failure_category(result: HealthResult) -> str:
    """What kind of failure a failed check is, in the operator's words: ``Unreachable``,
    ``Authentication failed``, ``Missing`` (the database, file or folder does not exist),
    ``Permission denied`` or ``Error``."""
    message = result.error_message or ""
    if result.status == "auth_failed":
        return AUTH_FAILED
    if _MISSING.search(message):
        return MISSING
    if _DENIED.search(message):
        return PERMISSION_DENIED
    if result.status in ("unreachable", "timeout"):
        return UNREACHABLE
    return ERROR
