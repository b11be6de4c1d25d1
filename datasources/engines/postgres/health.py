"""The health check: log in, read a few server facts, classify failures."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import psycopg

from datasources.engines.base import HealthResult, HealthStatus, elapsed_ms
from datasources.engines.postgres.clients import PostgresConnectionSchema, connection_arguments
from datasources.engines.process import mask

# SQLSTATE class 28: the server refused the login (28P01 wrong password, 28000 no such role,
# role not allowed to log in, no pg_hba.conf entry). libpq does not hand the SQLSTATE of a
# failed connection attempt to psycopg, so the server's FATAL messages are matched as well.
_AUTH_SQLSTATES = frozenset({"28P01", "28000"})
_AUTH_MARKERS = (
    "password authentication failed",
    "authentication failed for user",
    "is not permitted to log in",
    "no pg_hba.conf entry",
    "no password supplied",
)
_ROLE_MISSING = re.compile(r'role ".*" does not exist')
_UNREACHABLE_MARKERS = (
    "connection refused",
    "could not translate host name",
    "name or service not known",
    "no route to host",
    "network is unreachable",
)
_HEALTH_QUERY = (
    "SELECT 1, current_setting('server_version'), "
    "(SELECT count(*) FROM pg_stat_activity), "
    "extract(epoch FROM now() - pg_postmaster_start_time())::bigint"
)


def _health_status(exc: psycopg.Error) -> HealthStatus:
    message = str(exc).lower()
    if (
        exc.sqlstate in _AUTH_SQLSTATES
        or any(marker in message for marker in _AUTH_MARKERS)
        or _ROLE_MISSING.search(message)
    ):
        return "auth_failed"
    if isinstance(exc, psycopg.errors.ConnectionTimeout | psycopg.errors.QueryCanceled):
        return "timeout"
    if "timeout expired" in message or "timed out" in message:
        return "timeout"
    if exc.sqlstate is None and any(marker in message for marker in _UNREACHABLE_MARKERS):
        return "unreachable"
    return "error"


def check_health(config: dict[str, Any], timeout: float) -> HealthResult:
    """Log in, run one query of server facts, log out.

    libpq's ``connect_timeout`` bounds the connection (it has a floor of 2 s) and
    ``statement_timeout``, set to what is left of ``timeout`` once logged in, the query, so the
    check ends soon after ``timeout`` even when the server accepts connections and then never
    answers. (A server that logs the client in and then drops off the network without closing
    the connection is beyond both; the task's time limit ends that check.)
    """
    connection_config = PostgresConnectionSchema.parse(config)
    password = connection_config.password
    started = time.monotonic()
    try:
        with psycopg.connect(
            **connection_arguments(config),
            connect_timeout=max(2, math.ceil(timeout)),
            options=f"-c statement_timeout={max(1, round(timeout * 1000))}",
            application_name="dataguardian-health",
        ) as connection:
            # What is left of the budget after the login bounds the query.
            remaining_ms = max(1, round((started + timeout - time.monotonic()) * 1000))
            connection.execute(
                "SELECT set_config('statement_timeout', %s, false)", [str(remaining_ms)]
            )
            row = connection.execute(_HEALTH_QUERY).fetchone()
    except psycopg.Error as exc:
        where = connection_config.where
        return HealthResult(
            _health_status(exc),
            elapsed_ms(started),
            error_message=mask(f"PostgreSQL at {where}: {exc}".strip(), [password]),
        )
    latency = elapsed_ms(started)
    assert row is not None
    return HealthResult(
        "ok",
        latency,
        metadata={
            "version": f"PostgreSQL {str(row[1]).split()[0]}",
            "connections": int(row[2]),
            "uptime_seconds": int(row[3]),
        },
    )
