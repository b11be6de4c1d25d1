"""The scratch database a verification of a PostgreSQL backup restores into."""

from __future__ import annotations

import secrets as _random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from datasources.engines.postgres.clients import connection_arguments
from datasources.engines.verification import (
    ASSERTION_TIMEOUT_SECONDS,
    SCRATCH_PREFIX,
    Check,
    Inspection,
    Scratch,
    assertion_check,
    scratch_secrets,
)


def _connect(config: Mapping[str, Any], database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        **connection_arguments(config, database),
        connect_timeout=15,
        application_name="dataguardian-verify",
        autocommit=True,
    )


@contextmanager
def postgres_scratch(server: Mapping[str, Any]) -> Iterator[Scratch]:
    """A new database on ``server``, created from its maintenance database (the setting's
    ``maintenance_database``, else the connection's own database, else ``postgres``) and
    dropped with ``FORCE`` when the context exits."""
    server = dict(server)
    maintenance = str(
        server.pop("maintenance_database", None) or server.get("database") or "postgres"
    )
    name = f"{SCRATCH_PREFIX}{_random.token_hex(6)}"
    config = {**server, "database": name}
    with _connect(server, maintenance) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield Scratch(config, _inspect, scratch_secrets(server.get("password")))
    finally:
        with _connect(server, maintenance) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _inspect(config: dict[str, Any], assertions: list[str]) -> Inspection:
    with _connect(config, str(config["database"])) as connection:
        tables = connection.execute(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') "
            "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
        ).fetchall()
        rows = 0
        for schema, table in tables:
            # ONLY: a partitioned parent would count its partitions' rows a second time.
            query = sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            counted = connection.execute(query).fetchone()
            rows += int(counted[0]) if counted else 0
        connection.execute(f"SET statement_timeout = '{ASSERTION_TIMEOUT_SECONDS}s'")
        results = [_assertion(connection, number, a) for number, a in enumerate(assertions, 1)]
    return Inspection(tables=len(tables), rows=rows, assertions=results)


def _assertion(connection: psycopg.Connection[Any], number: int, assertion: str) -> Check:
    name = f"assertion_{number}"
    try:
        # A rolled-back transaction: an assertion may read the scratch copy, never change it.
        with connection.transaction(force_rollback=True):
            rows = connection.execute(assertion.encode()).fetchall()
    except psycopg.Error as exc:
        return Check(name, False, f"{assertion!r} raised: {str(exc).strip()}")
    return assertion_check(name, assertion, [tuple(row) for row in rows])
