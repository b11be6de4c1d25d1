"""Many executions, fast: the large-table tests and the admin benchmark fill
``backup_executions`` with ``insert_executions``."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from executions.models import BackupExecution
from jobs.models import BackupJob

#: Final statuses only, so the "running now" panel stays as the test set it up.
STATUSES = ["completed", "completed", "completed", "failed", "cancelled"]
#: One execution every this many minutes, newest first: 100,000 span about eleven months.
SPACING_MINUTES = 5
BATCH = 5_000

_INSERT = """
INSERT INTO backup_executions (
    id, job_id, datasource_id, storage_location_id, status, started_at, finished_at,
    duration_seconds, size_bytes, compressed_size_bytes, backup_path, backup_type,
    files_count, error_message, metadata, created_at, kind, trigger, attempt, worker, progress
)
SELECT
    gen_random_uuid(), %(job)s, %(datasource)s, %(storage)s,
    (%(statuses)s::text[])[1 + g %% %(n_statuses)s],
    %(now)s - g * %(spacing)s * interval '1 minute',
    %(now)s - g * %(spacing)s * interval '1 minute' + interval '90 seconds',
    90, 1000000 + g, 250000 + g, 'runs/' || g, 'full', 1,
    CASE WHEN g %% %(n_statuses)s = 3 THEN 'connection refused' END,
    '{}'::jsonb, %(now)s - g * %(spacing)s * interval '1 minute', 'backup', 'scheduled', 1, '',
    '{}'::jsonb
FROM generate_series(%(first)s, %(last)s) AS g
"""


def insert_executions(job: BackupJob, count: int, spacing_minutes: int = SPACING_MINUTES) -> None:
    """``count`` backups of ``job``, one every ``spacing_minutes`` going back from now: one
    ``INSERT … SELECT generate_series`` on PostgreSQL, batched ``bulk_create`` elsewhere."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT,
                {
                    "job": job.pk,
                    "datasource": job.datasource_id,
                    "storage": job.storage_location_id,
                    "statuses": STATUSES,
                    "n_statuses": len(STATUSES),
                    "spacing": spacing_minutes,
                    "now": now,
                    "first": 1,
                    "last": count,
                },
            )
            cursor.execute("ANALYZE backup_executions")
        return
    for start in range(1, count + 1, BATCH):
        BackupExecution.objects.bulk_create(
            [
                _execution(job, g, now, spacing_minutes)
                for g in range(start, min(start + BATCH, count + 1))
            ]
        )


def _execution(job: BackupJob, g: int, now: datetime, spacing: int) -> BackupExecution:
    created = now - timedelta(minutes=g * spacing)
    status = STATUSES[g % len(STATUSES)]
    return BackupExecution(
        id=uuid.uuid4(),
        job=job,
        datasource_id=job.datasource_id,
        storage_location_id=job.storage_location_id,
        status=status,
        started_at=created,
        finished_at=created + timedelta(seconds=90),
        duration_seconds=90,
        size_bytes=1_000_000 + g,
        compressed_size_bytes=250_000 + g,
        backup_path=f"runs/{g}",
        error_message="connection refused" if status == "failed" else None,
        created_at=created,
        kind="backup",
        trigger="scheduled",
        attempt=1,
    )
