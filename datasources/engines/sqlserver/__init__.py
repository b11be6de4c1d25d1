"""SQL Server datasources: backups are ``sqlpackage /Action:Export`` bacpacs, restores
``sqlpackage /Action:Import``, health checks and catalogue queries go through ``pymssql``.

Why a bacpac: it is made and read over the network connection alone, so it works with a
server on another host. ``BACKUP DATABASE ... TO DISK`` (through ``sqlcmd``) writes on the
server's own file system and would need a path both the server and DataGuardian share;
``bcp`` per table copies data without the schema and without consistency across tables.
docs/ENGINES.md states the consistency of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from datasources.engines.base import BackupStream, DatabaseEngine, HealthResult, RestoreSource
from datasources.engines.sqlserver.backup import BacpacStream, open_backup
from datasources.engines.sqlserver.driver import SQLServerConnectionSchema, check_health
from datasources.engines.sqlserver.restore import restore_database
from datasources.engines.sqlserver.scratch import sqlserver_scratch
from datasources.engines.sqlserver.sqlpackage import SQLPACKAGE, response_file
from datasources.engines.verification import Scratch

__all__ = [
    "SQLPACKAGE",
    "BacpacStream",
    "SQLServerConnectionSchema",
    "SQLServerEngine",
    "response_file",
]


class SQLServerEngine(DatabaseEngine):
    name = "sqlserver"
    label = "SQL Server"
    config_schema = SQLServerConnectionSchema
    extension = "bacpac"
    tools = (SQLPACKAGE,)

    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> AbstractContextManager[BackupStream]:
        return open_backup(config, options, temp_dir)

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        return check_health(config, timeout)

    # --- Restore --------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        return restore_database(config, source, temp_dir)

    # --- Verification ---------------------------------------------------------------------

    def scratch(self, server: Mapping[str, Any], temp_dir: Path) -> AbstractContextManager[Scratch]:
        return sqlserver_scratch(server)
