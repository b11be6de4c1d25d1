"""MongoDB datasources."""

from __future__ import annotations

from datasources.engines.base import DatabaseConnectionSchema, DatabaseEngine


class MongoDBConnectionSchema(DatabaseConnectionSchema):
    default_port = 27017


class MongoDBEngine(DatabaseEngine):
    name = "mongodb"
    label = "MongoDB"
    config_schema = MongoDBConnectionSchema
