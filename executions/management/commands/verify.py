"""Verify a backup now, in this process: restore it into a scratch target and check it."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from executions.models import BackupExecution
from executions.verification import VerificationRefused, verify_backup
from jobs.models import BackupJob


def find_backup(ref: str) -> BackupExecution:
    """The backup execution with id ``ref``, or the latest completed backup of the job whose
    id or exact name is ``ref``."""
    backups = BackupExecution.objects.select_related("job", "datasource", "storage_location")
    try:
        key = uuid.UUID(ref)
    except ValueError:
        jobs = list(BackupJob.objects.filter(name=ref))
    else:
        found = backups.filter(pk=key).first()
        if found is not None:
            return found
        jobs = list(BackupJob.objects.filter(pk=key))
    if not jobs:
        raise CommandError(f"No backup execution or job has the id or name {ref!r}.")
    if len(jobs) > 1:
        raise CommandError(f"{len(jobs)} jobs are named {ref!r}; give its id instead.")
    latest = (
        backups.filter(
            job=jobs[0],
            kind=BackupExecution.Kind.BACKUP,
            status=BackupExecution.Status.COMPLETED,
        )
        .order_by("-finished_at")
        .first()
    )
    if latest is None:
        raise CommandError(f"Job {jobs[0].name} has no completed backup to verify.")
    return latest


class Command(BaseCommand):
    help = (
        "Restore a completed backup into a scratch database or directory, check it (tables, "
        "rows, files, the job's verification_assertions) and drop the scratch target. Takes a "
        "backup execution id, or a job id or name for that job's latest completed backup. "
        "Prints each check; exits non-zero if the verification fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "reference", help="A backup execution id, or a job id or name (its latest backup)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backup = find_backup(options["reference"])
        self.stdout.write(f"verifying backup {backup.id} of {backup.datasource.name}")
        try:
            result = verify_backup(backup)
        except VerificationRefused as exc:
            raise CommandError(str(exc)) from exc
        for check in result["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            self.stdout.write(f"  {mark} {check['name']}: {check['detail']}")
        if result["status"] != "passed":
            reason = result["error"] or "one or more checks failed"
            raise CommandError(f"verification of backup {backup.id} failed: {reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"verification of backup {backup.id} passed (restored in "
                f"{result['restore_seconds']} s)"
            )
        )
