"""The executions' totals by kind, status and storage location, read without counting the
executions (``ExecutionTally``, kept by triggers on PostgreSQL)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from executions.models import BackupExecution, ExecutionTally

#: A read that finds more tally rows than this folds them (``compact``).
COMPACT_ABOVE = 1000

GROUP = ("kind", "status", "storage_location_id")

# One statement, so rows that concurrent runs add meanwhile (not yet visible to it) are
# neither deleted nor counted twice: they stay, and the next fold takes them.
COMPACT = """
WITH folded AS (DELETE FROM execution_tallies RETURNING *)
INSERT INTO execution_tallies (kind, status, storage_location_id, executions, compressed_bytes)
SELECT kind, status, storage_location_id, sum(executions), sum(compressed_bytes)
FROM folded GROUP BY kind, status, storage_location_id
HAVING sum(executions) <> 0 OR sum(compressed_bytes) <> 0
"""


def totals() -> list[tuple[str, str, Any, int, int]]:
    """``(kind, status, storage location id, executions, compressed bytes)`` of every group
    that has executions. On PostgreSQL these are the tally's sums (folded when it has grown
    past ``COMPACT_ABOVE`` rows); on SQLite the executions are counted."""
    if connection.vendor != "postgresql":
        counted = (
            BackupExecution.objects.order_by()
            .values_list(*GROUP)
            .annotate(n=Count("id"), size=Coalesce(Sum("compressed_size_bytes"), 0))
            .values_list(*GROUP, "n", "size")
        )
        return list(counted)
    summed = (
        ExecutionTally.objects.order_by()
        .values_list(*GROUP)
        .annotate(n=Sum("executions"), size=Sum("compressed_bytes"), rows=Count("id"))
        .values_list(*GROUP, "n", "size", "rows")
    )
    rows = list(summed)
    if sum(row[5] for row in rows) > COMPACT_ABOVE:
        compact()
    return [row[:5] for row in rows if row[3]]


def compact() -> None:
    """Fold the tally into one row per group (PostgreSQL; nothing to fold on SQLite)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(COMPACT)
