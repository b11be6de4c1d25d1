"""The scratch database a verification of a SQL Server backup is imported into."""

from __future__ import annotations

import secrets as _random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from datasources.engines.sqlserver.driver import (
    TABLES_QUERY,
    SQLServerConnectionSchema,
    driver_message,
    drop_database,
    query,
    quote_name,
    session,
)
from datasources.engines.verification import (
    ASSERTION_TIMEOUT_SECONDS,
    SCRATCH_PREFIX,
    Check,
    Inspection,
    Scratch,
    assertion_check,
    scratch_secrets,
)


@contextmanager
def sqlserver_scratch(server: Mapping[str, Any]) -> Iterator[Scratch]:
    """A database name on ``server`` that nothing uses yet: the restore's import creates it
    (sqlpackage imports into a new database), and it is dropped when the context exits."""
    server = {key: value for key, value in server.items() if key != "maintenance_database"}
    name = f"{SCRATCH_PREFIX}{_random.token_hex(6)}"
    config = {**server, "database": name}
    try:
        yield Scratch(config, _inspect, scratch_secrets(server.get("password")))
    finally:
        drop_database(SQLServerConnectionSchema.parse(config), name)


def _inspect(config: dict[str, Any], assertions: list[str]) -> Inspection:
    connection = SQLServerConnectionSchema.parse(config)
    with session(connection, timeout=ASSERTION_TIMEOUT_SECONDS) as conn:
        tables = query(conn, TABLES_QUERY)
        counts: dict[str, int] = {}
        for schema, table, _ in tables:
            # Identifiers bracket-quoted; T-SQL takes no parameters for them.
            counted = query(
                conn,
                f"SELECT COUNT_BIG(*) FROM {quote_name(schema)}.{quote_name(table)}",  # noqa: S608
            )
            counts[f"{schema}.{table}"] = int(counted[0][0]) if counted else 0
        conn.rollback()
        results = [_assertion(conn, number, a) for number, a in enumerate(assertions, 1)]
    return Inspection(
        tables=len(tables), rows=sum(counts.values()), assertions=results, details=counts
    )


def _assertion(conn: Any, number: int, assertion: str) -> Check:
    """Run one assertion in a transaction that is rolled back: it may read the scratch copy,
    never change it."""
    import pymssql

    name = f"assertion_{number}"
    try:
        rows = query(conn, assertion)
    except pymssql.Error as exc:
        return Check(name, False, f"{assertion!r} raised: {driver_message(exc)}")
    finally:
        conn.rollback()
    return assertion_check(name, assertion, rows)
