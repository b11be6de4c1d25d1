"""MongoDB datasources."""

from __future__ import annotations

from typing import Any

from datasources.engines.base import (
    DatabaseConnectionSchema,
    DatabaseEngine,
    HealthResult,
    check_tcp,
)


class MongoDBConnectionSchema(DatabaseConnectionSchema):
    default_port = 27017


class MongoDBEngine(DatabaseEngine):
    name = "mongodb"
    label = "MongoDB"
    config_schema = MongoDBConnectionSchema

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        # No MongoDB driver is installed: only TCP reachability is checked, and said so.
        return check_tcp(str(config["host"]), int(config.get("port") or 27017), timeout)
