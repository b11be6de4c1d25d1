"""Run one backup now, in this process."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.display import human_duration, human_size
from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import back_up
from jobs.models import BackupJob


def find_job(ref: str) -> BackupJob:
    """A job by id or by exact name; an ambiguous or unknown reference is an error."""
    try:
        return BackupJob.objects.select_related("datasource", "storage_location").get(
            pk=uuid.UUID(ref)
        )
    except (ValueError, BackupJob.DoesNotExist):
        pass
    jobs = list(BackupJob.objects.select_related("datasource", "storage_location").filter(name=ref))
    if not jobs:
        raise CommandError(f"No backup job has the id or name {ref!r}.")
    if len(jobs) > 1:
        raise CommandError(f"{len(jobs)} jobs are named {ref!r}; give the job's id instead.")
    return jobs[0]


class Command(BaseCommand):
    help = "Run a backup of a job now, synchronously; exits non-zero if it fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job", help="The job's id or name.")

    def handle(self, *args: Any, **options: Any) -> None:
        job = find_job(options["job"])
        execution = create_backup_execution(job, BackupExecution.Trigger.MANUAL)
        self.stdout.write(
            f"execution {execution.id}: backing up {job.datasource.name} "
            f"({job.datasource.type}) to {job.storage_location.name}"
        )
        execution = BackupExecution.objects.select_related(
            "job", "datasource", "storage_location"
        ).get(pk=execution.pk)
        execution.claim(worker="cli")
        if not back_up(execution):
            execution.refresh_from_db()
            raise CommandError(
                f"execution {execution.id} {execution.status}: {execution.error_message}"
            )
        execution.refresh_from_db()
        self.stdout.write(
            self.style.SUCCESS(
                f"execution {execution.id} completed in "
                f"{human_duration(execution.duration_seconds)}: "
                f"{human_size(execution.size_bytes)} read, "
                f"{human_size(execution.compressed_size_bytes)} stored at "
                f"{execution.backup_path} on {job.storage_location.name}"
            )
        )
