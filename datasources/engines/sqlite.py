"""SQLite database files."""

from __future__ import annotations

from dataguardian.registry import AbsolutePathField, ConfigSchema
from datasources.engines.base import Engine


class SQLiteConnectionSchema(ConfigSchema):
    file_path = AbsolutePathField()


class SQLiteEngine(Engine):
    name = "sqlite"
    label = "SQLite"
    config_schema = SQLiteConnectionSchema
