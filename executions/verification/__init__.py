"""Verified backups: restore a backup into a scratch target, check what came back, record it.

A backup that cannot be restored is no backup. ``verify_backup`` restores a completed backup
with the same two-pass reading as a real restore (every chunk hashed before anything reaches
the target, hashed again while it streams) into a target that exists only for the check. The
engine makes it (``Engine.scratch``, docs/ENGINES.md) and inspects it:

- PostgreSQL: a database ``dgverify_<random>`` on the verification server (the setting
  ``verification.postgres_server``, else the backup's own server and credentials);
- MySQL / MariaDB: a schema ``dgverify_<random>`` likewise (``verification.mysql_server``);
- MongoDB and SQL Server: a database ``dgverify_<random>`` on the backup's own server;
- SQLite and files: a path under ``system.temp_directory``.

The scratch target is dropped whatever happens. The outcome is written to the backup
execution's ``metadata["verification"]``; a failure also records a critical
``verification_failed`` notification.

Row counts: the engines record ``rows_approximate``, the sum of the catalogue's estimates
(PostgreSQL ``reltuples``, InnoDB ``TABLE_ROWS``), not an exact count. The restored tables are
counted exactly and the check fails only when they hold fewer than ``1 - ROW_TOLERANCE`` of
the estimate: it catches a table that came back empty or a dump cut short, not a handful of
missing rows, and it does not fail because statistics were stale.
"""

from executions.verification.checks import VerificationRefused
from executions.verification.run import (
    beating,
    can_verify,
    mark_queued,
    mark_running,
    record_lost,
    verify_backup,
)

__all__ = [
    "VerificationRefused",
    "beating",
    "can_verify",
    "mark_queued",
    "mark_running",
    "record_lost",
    "verify_backup",
]
