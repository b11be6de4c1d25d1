"""The scratch metadata database of a latency bench: a database of its own on the local
PostgreSQL (127.0.0.1:5432, user postgres), created on first use, migrated at every run and
kept for the next one until ``drop``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "host=127.0.0.1 port=5432 user=postgres"


def _admin(statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(f"{PG} dbname=postgres", autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def drop(name: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def open_database(name: str, data_dir: str) -> None:
    """Create ``name`` if it is missing, set Django up on it (``data_dir`` unless
    DATAGUARDIAN_DATA_DIR is set) and migrate it."""
    if not _admin(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        _admin(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    os.environ.setdefault("DATAGUARDIAN_DATA_DIR", data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
