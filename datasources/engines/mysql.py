"""MySQL / MariaDB datasources."""

from __future__ import annotations

from datasources.engines.base import DatabaseConnectionSchema, DatabaseEngine


class MySQLConnectionSchema(DatabaseConnectionSchema):
    default_port = 3306


class MySQLEngine(DatabaseEngine):
    name = "mysql"
    label = "MySQL / MariaDB"
    config_schema = MySQLConnectionSchema
