"""SQL Server datasources."""

from __future__ import annotations

from typing import Any

from datasources.engines.base import (
    DatabaseConnectionSchema,
    DatabaseEngine,
    HealthResult,
    check_tcp,
)


class SQLServerConnectionSchema(DatabaseConnectionSchema):
    default_port = 1433


class SQLServerEngine(DatabaseEngine):
    name = "sqlserver"
    label = "SQL Server"
    config_schema = SQLServerConnectionSchema

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        # No SQL Server driver is installed: only TCP reachability is checked, and said so.
        return check_tcp(str(config["host"]), int(config.get("port") or 1433), timeout)
