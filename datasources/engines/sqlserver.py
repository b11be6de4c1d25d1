"""SQL Server datasources."""

from __future__ import annotations

from datasources.engines.base import DatabaseConnectionSchema, DatabaseEngine


class SQLServerConnectionSchema(DatabaseConnectionSchema):
    default_port = 1433


class SQLServerEngine(DatabaseEngine):
    name = "sqlserver"
    label = "SQL Server"
    config_schema = SQLServerConnectionSchema
