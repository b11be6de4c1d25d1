"""Child processes (Celery workers, management commands) that share the test's database and
broker, in either mode."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process that works on this test's database and broker: the test
    PostgreSQL database and Redis, or the test SQLite file and the file-system broker of the
    same data directory."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["DATAGUARDIAN_DATA_DIR"] = str(settings.DATA_DIR)
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env["REDIS_URL"] = settings.CELERY_BROKER_URL
        env["DATABASE_CONN_MAX_AGE"] = "0"
    env.update(extra)
    return env
