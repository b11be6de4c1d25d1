"""Apply retention now: delete old backups and old failed runs, or show what would go."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from executions.cleanup import FAILED_RETENTION_DAYS, CleanupResult, CleanupSummary, run_cleanup
from executions.management.commands.backup import find_job
from executions.models import BackupExecution


def _when(execution: BackupExecution, tz_name: str) -> str:
    moment = execution.finished_at or execution.created_at
    return moment.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


class Command(BaseCommand):
    help = (
        "Apply each job's retention policy (jobs with auto_delete on) and prune old failed "
        "executions. Prints what is kept and why, and what is deleted; exits non-zero if "
        "anything could not be deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be deleted; change nothing."
        )
        parser.add_argument("--job", help="Only this job (id or name).")

    def handle(self, *args: Any, **options: Any) -> None:
        job = find_job(options["job"]) if options["job"] else None
        summary = run_cleanup(dry_run=options["dry_run"], job=job)
        for result in summary.jobs:
            self._job(result)
        self._totals(summary)
        if summary.errors:
            raise CommandError(
                f"{len(summary.errors)} deletions failed; they are retried next run."
            )

    def _job(self, result: CleanupResult) -> None:
        job = result.job
        self.stdout.write(f"job {job.name} ({job.pk})")
        if result.skipped:
            self.stdout.write(f"  skipped: {result.skipped}")
            return
        verb = "would delete" if result.dry_run else "deleted"
        for kept in result.kept:
            execution = kept.execution
            when = _when(execution, job.schedule_timezone)
            self.stdout.write(f"  keep    {when}  {execution.pk}  {', '.join(kept.reasons)}")
        for execution in result.deleted:
            when = _when(execution, job.schedule_timezone)
            size = execution.compressed_size_bytes or 0
            self.stdout.write(f"  {verb:<7} {when}  {execution.pk}  {size} bytes")
        for error in result.errors:
            self.stderr.write(f"  error   {error}")

    def _totals(self, summary: CleanupSummary) -> None:
        prefix = "would delete" if summary.dry_run else "deleted"
        self.stdout.write(
            f"{prefix} {summary.deleted_count} backups ({summary.bytes_freed} bytes) and "
            f"{len(summary.failed.pruned)} failed or cancelled executions older than "
            f"{FAILED_RETENTION_DAYS} days; "
            f"{len(summary.errors)} errors"
        )
        for error in summary.failed.errors:
            self.stderr.write(f"error   {error}")
