"""Backup and restore executions, and the chunks a backup is stored as."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from datasources.models import Datasource
from jobs.models import BackupJob
from storage.models import StorageLocation


class IllegalTransition(Exception):
    """An execution was asked to move to a status its current status does not lead to."""


class BackupExecution(models.Model):
    """One run of a backup job, or one restore of a backup (seed table ``backup_executions``).

    It is a state machine and an append-only record. Legal transitions::

        queued  -> running | cancelled | failed
        running -> completed | failed | cancelled | queued   (queued again: a retry)

    ``completed``, ``failed`` and ``cancelled`` are final. The methods below perform each
    transition with a conditional UPDATE that must touch exactly one row, so two workers can
    never both claim the same execution.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class BackupType(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"
        DIFFERENTIAL = "differential", "Differential"

    class Kind(models.TextChoices):
        BACKUP = "backup", "Backup"
        RESTORE = "restore", "Restore"

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "Manual"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
        Status.RUNNING: frozenset(
            {Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.QUEUED}
        ),
        Status.COMPLETED: frozenset(),
        Status.FAILED: frozenset(),
        Status.CANCELLED: frozenset(),
    }
    FINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(BackupJob, on_delete=models.PROTECT, related_name="executions")
    datasource = models.ForeignKey(
        Datasource, on_delete=models.PROTECT, related_name="backup_executions"
    )
    storage_location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="backup_executions"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.IntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    compressed_size_bytes = models.BigIntegerField(null=True, blank=True)
    backup_path = models.TextField(null=True, blank=True)
    backup_type = models.CharField(
        max_length=20, choices=BackupType.choices, default=BackupType.FULL
    )
    files_count = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    error_stack = models.TextField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # Beyond the seed: what kind of run, why it started, and how it is going.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BACKUP)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    source_execution = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="restores",
        help_text="For a restore: the backup it restores.",
    )
    attempt = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, default="")
    progress = models.JSONField(default=dict, blank=True)
    # db_default too: rows written by plain SQL (bulk loads, benchmarks) get an empty tail.
    log_tail = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="The run's own log lines (INFO and above, secrets masked), newest last: "
        "at most core.logging.TAIL_LINES lines and TAIL_BYTES bytes.",
    )

    class Meta:
        db_table = "backup_executions"
        ordering = ["-created_at"]
        indexes = [
            models.Index("job", models.F("created_at").desc(), name="executions_job_created_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="executions_status_hb_idx"),
            models.Index(models.F("created_at").desc(), name="executions_created_idx"),
            models.Index("datasource", "status", name="executions_ds_status_idx"),
            # What the dashboard sums per storage location, readable from the index alone.
            models.Index(
                "storage_location",
                "compressed_size_bytes",
                condition=models.Q(status="completed", kind="backup"),
                name="executions_stored_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "scheduled_for"],
                condition=models.Q(scheduled_for__isnull=False),
                name="executions_one_per_job_slot",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["queued", "running", "completed", "failed", "cancelled"]
                ),
                name="backup_executions_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(backup_type__in=["full", "incremental", "differential"]),
                name="backup_executions_backup_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def owns_stored_files(self) -> bool:
        """Whether deleting this record must delete files in storage: only a backup owns what
        it stored; a restore only points at its backup's files."""
        return self.kind == self.Kind.BACKUP and bool(self.backup_path)

    def _transition(self, target: str, **fields: Any) -> None:
        """Move from the current status to ``target`` with one conditional UPDATE.

        Raises ``IllegalTransition`` when the move is not legal or when the row in the database
        no longer has the status this object holds (somebody else moved it first).
        """
        current = self.status
        if target not in self.TRANSITIONS[current]:
            raise IllegalTransition(f"An execution cannot go from {current} to {target}.")
        updated = (
            type(self).objects.filter(pk=self.pk, status=current).update(status=target, **fields)
        )
        if updated != 1:
            raise IllegalTransition(
                f"Execution {self.pk} is no longer {current}; it was moved by another process."
            )
        self.status = target
        for name, value in fields.items():
            setattr(self, name, value)

    def claim(self, worker: str = "") -> None:
        """queued -> running, by the worker that will run it."""
        now = timezone.now()
        self._transition(
            self.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            attempt=self.attempt + 1,
        )

    def _finish(self, target: str, **fields: Any) -> None:
        now = timezone.now()
        duration = int((now - self.started_at).total_seconds()) if self.started_at else None
        self._transition(target, finished_at=now, duration_seconds=duration, **fields)
        if self.kind == self.Kind.BACKUP:
            self._record_on_job(now)

    def _record_on_job(self, now: Any) -> None:
        """Keep the job's record of its last attempt and last completed backup (what the
        recoverability report and the metrics read without scanning executions). A run that
        finishes after a later one does not overwrite it."""
        jobs = BackupJob.objects.filter(pk=self.job_id)
        jobs.filter(
            models.Q(last_attempt_at__isnull=True) | models.Q(last_attempt_at__lte=now)
        ).update(last_attempt_at=now, last_attempt_status=self.status)
        if self.status == self.Status.COMPLETED:
            jobs.filter(
                models.Q(last_completed_at__isnull=True) | models.Q(last_completed_at__lte=now)
            ).update(
                last_completed_at=now,
                last_completed_id=self.pk,
                last_completed_seconds=self.duration_seconds,
                last_completed_bytes=self.compressed_size_bytes,
            )

    def complete(self, **fields: Any) -> None:
        """running -> completed, recording the result fields given."""
        self._finish(self.Status.COMPLETED, **fields)

    def fail(self, message: str, stack: str = "", **fields: Any) -> None:
        """queued|running -> failed with a readable, secret-free message."""
        self._finish(self.Status.FAILED, error_message=message, error_stack=stack, **fields)

    def cancel(self) -> None:
        """queued|running -> cancelled."""
        self._finish(self.Status.CANCELLED)

    def requeue(self) -> None:
        """running -> queued, for a retry after a transient error."""
        self._transition(self.Status.QUEUED, heartbeat_at=None)


class BackupChunk(models.Model):
    """One stored piece of a backup artifact (seed table ``backup_chunks``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(BackupExecution, on_delete=models.CASCADE, related_name="chunks")
    chunk_number = models.IntegerField()
    file_path = models.TextField()
    size_bytes = models.BigIntegerField()
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "backup_chunks"
        ordering = ["execution", "chunk_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "chunk_number"], name="backup_chunks_execution_number_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"chunk {self.chunk_number} of {self.execution_id}"


class ExecutionTally(models.Model):
    """Running totals of the execution rows by kind, status and storage location: their
    number and their compressed bytes.

    On PostgreSQL, triggers on ``backup_executions`` (migration 0005) keep them: every insert,
    delete, and change of an execution's kind, status, location or compressed size adds rows
    of +1/-1 and +/- bytes, never updating one, so concurrent runs do not wait on each other;
    ``executions.tally.compact`` folds them. Their sums are what ``/metrics`` reads instead of
    counting every execution at each scrape. On SQLite the table stays empty and the metrics
    count the executions themselves (``executions.tally.totals``)."""

    kind = models.CharField(max_length=10)
    status = models.CharField(max_length=20)
    storage_location_id = models.UUIDField()
    executions = models.BigIntegerField()
    compressed_bytes = models.BigIntegerField()

    class Meta:
        db_table = "execution_tallies"

    def __str__(self) -> str:
        return f"{self.executions:+d} {self.kind} {self.status} in {self.storage_location_id}"
