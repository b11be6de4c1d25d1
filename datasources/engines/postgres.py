"""PostgreSQL datasources."""

from __future__ import annotations

from datasources.engines.base import DatabaseConnectionSchema, DatabaseEngine


class PostgresConnectionSchema(DatabaseConnectionSchema):
    default_port = 5432


class PostgresEngine(DatabaseEngine):
    name = "postgres"
    label = "PostgreSQL"
    config_schema = PostgresConnectionSchema
