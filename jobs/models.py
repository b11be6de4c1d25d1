"""Backup jobs: what is backed up, where to, when, and how long it is kept."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Collection
from typing import Any

from croniter import croniter
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from rest_framework import serializers

from core.validation import drf_to_django_errors
from datasources.models import Datasource
from jobs.schedule import next_run
from jobs.schemas import (
    BackupOptionsSchema,
    RetentionPolicySchema,
    default_backup_options,
    default_retention_policy,
    validate_for_engine,
)
from storage.models import StorageLocation


def validate_cron(value: str) -> None:
    if not croniter.is_valid(value) or len(value.split()) != 5:
        raise ValidationError(
            f"{value!r} is not a cron expression of five fields (minute hour day month weekday)."
        )


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin).") from exc


class BackupJob(models.Model):
    """A backup policy (seed table ``backup_jobs``): a datasource, a storage location, a cron
    schedule in a time zone, a retention policy and backup options."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    datasource = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="backup_jobs")
    storage_location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="backup_jobs"
    )
    schedule_cron = models.CharField(max_length=100, validators=[validate_cron])
    schedule_timezone = models.CharField(
        max_length=50, default="UTC", validators=[validate_timezone]
    )
    enabled = models.BooleanField(default=True)
    retention_policy = models.JSONField(default=default_retention_policy)
    backup_options = models.JSONField(default=default_backup_options)
    last_execution_at = models.DateTimeField(null=True, blank=True)
    next_execution_at = models.DateTimeField(null=True, blank=True)
    # Alerts (docs/ALERTS.md).
    failure_streak = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Backups that failed for good in a row; the next completed backup resets it.",
    )
    stale_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Alert (backup_stale) when no backup has completed for this many minutes. "
        "Empty: twice the schedule's interval.",
    )
    stale_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When backup_stale was raised; cleared by the next completed backup.",
    )
    # Recoverability (docs/OBSERVABILITY.md): targets and the restore-test window, set by the
    # operator; the record below them is kept by the runs themselves (``executions``).
    rpo_target_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Warn (rpo_target_missed) when the newest completed backup is older than "
        "this many minutes. Empty: no target.",
    )
    rto_target_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Warn (rto_target_missed) when the last measured restore took longer than "
        "this many minutes. Empty: no target.",
    )
    restore_test_every_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(365)],
        help_text="Verify the newest completed backup at least this often (days); 0 turns "
        "the scheduled restore test off for this job. Empty: the system setting "
        "verification.restore_test_every_days.",
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_attempt_status = models.CharField(max_length=20, blank=True, default="", editable=False)
    last_completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_completed_id = models.UUIDField(null=True, blank=True, editable=False)
    last_completed_seconds = models.IntegerField(null=True, blank=True, editable=False)
    last_completed_bytes = models.BigIntegerField(null=True, blank=True, editable=False)
    # The newest backup whose verification passed, and when it last passed.
    verified_backup_id = models.UUIDField(null=True, blank=True, editable=False)
    verified_backup_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The latest verification of any of the job's backups, passed or failed.
    last_verification_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_verification_status = models.CharField(
        max_length=20, blank=True, default="", editable=False
    )
    last_verification_backup_id = models.UUIDField(null=True, blank=True, editable=False)
    # The last restore a verification measured (the RTO), and the size of what it restored.
    last_restore_seconds = models.FloatField(null=True, blank=True, editable=False)
    last_restore_bytes = models.BigIntegerField(null=True, blank=True, editable=False)
    # When each recoverability warning was raised; cleared when the condition ends.
    verification_overdue_since = models.DateTimeField(null=True, blank=True, editable=False)
    rpo_missed_since = models.DateTimeField(null=True, blank=True, editable=False)
    rto_missed_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The schedule as last loaded or saved, to tell when next_execution_at must move.
    _loaded_schedule: tuple[str, str, bool] | None = None

    class Meta:
        db_table = "backup_jobs"
        ordering = ["name"]
        indexes = [
            models.Index(fields=["enabled", "next_execution_at"], name="backup_jobs_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, keeping ``next_execution_at`` in step with the schedule: a disabled job has
        none; an enabled job without one, or one whose cron, time zone or ``enabled`` changed,
        gets the next slot after now. ``QuerySet.update`` bypasses this, so schedule changes
        go through ``save``."""
        if self._refresh_next_execution():
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "next_execution_at"}
        super().save(*args, **kwargs)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> BackupJob:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_schedule = instance._schedule_state()
        return instance

    def _schedule_state(self) -> tuple[str, str, bool] | None:
        # Deferred fields (``only()``) are not loaded; such an instance never recomputes.
        loaded = self.__dict__
        if not all(f in loaded for f in ("schedule_cron", "schedule_timezone", "enabled")):
            return None
        return (self.schedule_cron, self.schedule_timezone, self.enabled)

    def _refresh_next_execution(self) -> bool:
        """Recompute ``next_execution_at`` where the schedule changed; True if it did."""
        state = self._schedule_state()
        if state is None:
            return False
        before = self.next_execution_at
        if not self.enabled:
            self.next_execution_at = None
        elif before is None or (not self._state.adding and state != self._loaded_schedule):
            self.next_execution_at = next_run(
                self.schedule_cron, self.schedule_timezone, timezone.now()
            )
        self._loaded_schedule = state
        return self.next_execution_at != before

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        if not self._schedule_fields_invalid():
            try:
                next_run(self.schedule_cron, self.schedule_timezone, timezone.now())
            except ValueError:
                errors["schedule_cron"] = [
                    f"{self.schedule_cron!r} never matches a date (e.g. 30 February)."
                ]
        for field, schema in (
            ("retention_policy", RetentionPolicySchema),
            ("backup_options", BackupOptionsSchema),
        ):
            try:
                setattr(self, field, schema.validate_data(getattr(self, field)))
            except serializers.ValidationError as exc:
                errors[field] = drf_to_django_errors(exc)
        if "backup_options" not in errors and self.datasource_id is not None:
            try:
                validate_for_engine(self.datasource.type, self.backup_options)
            except serializers.ValidationError as exc:
                errors["backup_options"] = drf_to_django_errors(exc)
        if errors:
            raise ValidationError(errors)

    def _schedule_fields_invalid(self) -> bool:
        """Whether the cron or time zone fails its own validator (reported by those)."""
        try:
            validate_cron(self.schedule_cron)
            validate_timezone(self.schedule_timezone)
        except ValidationError:
            return True
        return False
