"""Run one DataGuardian backup of a job in this process and print its figures as JSON.

Used by bench/backup_postgres.py; peak RSS is this process's own (the Python side of the
pipeline), pg_dump's memory is its own process's.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django

django.setup()

from executions.backup import perform_backup  # noqa: E402
from executions.models import BackupExecution  # noqa: E402
from executions.services import create_backup_execution  # noqa: E402
from jobs.models import BackupJob  # noqa: E402

started = time.monotonic()
job = BackupJob.objects.get(pk=sys.argv[1])
execution = create_backup_execution(job)
execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
    pk=execution.pk
)
execution.claim(worker="bench")
backup_started = time.monotonic()
ok = perform_backup(execution)
backup_seconds = time.monotonic() - backup_started
execution.refresh_from_db()
print(
    json.dumps(
        {
            "ok": ok,
            "error": execution.error_message,
            "seconds": time.monotonic() - started,
            "backup_seconds": backup_seconds,
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "raw_bytes": execution.size_bytes,
            "stored_bytes": execution.compressed_size_bytes,
            "path": execution.backup_path,
        }
    )
)
