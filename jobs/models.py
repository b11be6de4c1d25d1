"""Backup jobs: what is backed up, where to, when, and how long it is kept."""

from __future__ import annotations

import uuid
import zoneinfo

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework import serializers

from dataguardian.validation import drf_to_django_errors
from datasources.models import Datasource
from jobs.schemas import (
    BackupOptionsSchema,
    RetentionPolicySchema,
    default_backup_options,
    default_retention_policy,
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "backup_jobs"
        ordering = ["name"]
        indexes = [
            models.Index(fields=["enabled", "next_execution_at"], name="backup_jobs_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        for field, schema in (
            ("retention_policy", RetentionPolicySchema),
            ("backup_options", BackupOptionsSchema),
        ):
            try:
                setattr(self, field, schema.validate_data(getattr(self, field)))
            except serializers.ValidationError as exc:
                errors[field] = drf_to_django_errors(exc)
        if errors:
            raise ValidationError(errors)
