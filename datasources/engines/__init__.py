"""Backup engines, one module per datasource type. Adding a type is one module plus one line."""

from __future__ import annotations

from core.registry import Registry
from datasources.engines.base import Engine

ENGINES: Registry[Engine] = Registry(
    "datasource",
    {
        "postgres": "datasources.engines.postgres.PostgresEngine",
        "mysql": "datasources.engines.mysql.MySQLEngine",
        "mongodb": "datasources.engines.mongodb.MongoDBEngine",
        "sqlserver": "datasources.engines.sqlserver.SQLServerEngine",
        "sqlite": "datasources.engines.sqlite.SQLiteEngine",
        "files": "datasources.engines.files.FilesEngine",
    },
)


def secret_fields() -> frozenset[str]:
    """Keys of ``connection_config`` encrypted at rest (used by the model field)."""
    return ENGINES.secret_fields()


def choices() -> list[tuple[str, str]]:
    """``(type, label)`` pairs for model, form and API choices."""
    return ENGINES.choices()
