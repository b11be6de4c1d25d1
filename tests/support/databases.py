"""The real local PostgreSQL and MariaDB the tests run against: how to reach them and how to
run SQL on them."""

from __future__ import annotations

import subprocess
from typing import Any

import psycopg

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
#: A datasource ``connection_config`` for the local PostgreSQL, without the database.
PG_CONNECTION = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": ""}
#: A datasource ``connection_config`` for the local MariaDB, without the database.
MARIADB_CONNECTION = {"host": "127.0.0.1", "port": 3306, "username": "root", "password": ""}


def pg_exec(sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
    dsn = PG_DSN.replace("dbname=postgres", f"dbname={dbname}")
    with psycopg.connect(dsn, autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else []


def mysql_exec(sql: str) -> str:
    """Run ``sql`` with the mysql client as root on the local MariaDB; its tab-separated output."""
    return subprocess.run(
        ["mysql", "-h127.0.0.1", "-uroot", "--protocol=TCP", "-N", "-B", "-e", sql],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def pg_table_checksums(dbname: str) -> dict[str, tuple[int, str]]:
    tables = [
        r[0]
        for r in pg_exec(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", dbname
        )
    ]
    out = {}
    for table in tables:
        count, digest = pg_exec(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
            f"FROM {table} t",
            dbname,
        )[0]
        out[table] = (count, digest)
    return out


def scratch_databases() -> list[str]:
    """PostgreSQL databases a verification created and did not drop."""
    return [
        row[0] for row in pg_exec("SELECT datname FROM pg_database WHERE datname LIKE 'dgverify%'")
    ]


def scratch_schemas() -> list[str]:
    """MariaDB schemas a verification created and did not drop."""
    return mysql_exec("SHOW DATABASES LIKE 'dgverify%'").split()
