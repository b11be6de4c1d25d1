"""Backup engines, one module per datasource type. Adding a type is one module plus one line;
docs/DEVELOPMENT.md ("Adding an engine") lists what the module provides."""

from __future__ import annotations

import copy
from functools import cache

from core.registry import ConfigSchema, Registry
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


@cache
def assembled_schema(
    name: str, attribute: str, base: type[ConfigSchema] = ConfigSchema
) -> type[ConfigSchema]:
    """A schema with ``base``'s fields and those of every engine's ``attribute`` schema
    (``options_schema`` or ``restore_options_schema``). Two engines declaring one key must
    declare the same field (``TableSelectionOptions`` is shared that way); otherwise the
    assembly fails, at import, naming both."""
    fields: dict[str, object] = {}
    owners: dict[str, str] = {}
    for type_name in ENGINES:
        schema: type[ConfigSchema] = getattr(ENGINES.get(type_name), attribute)
        for key, field in schema._declared_fields.items():
            if key in fields and type(fields[key]) is not type(field):
                raise TypeError(
                    f"{type_name} and {owners[key]} declare {attribute} {key!r} differently."
                )
            if key not in fields:
                fields[key], owners[key] = copy.deepcopy(field), type_name
    return type(name, (base,), fields)
