"""Notifications: what DataGuardian tells the operator."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class NotificationType(models.TextChoices):
    BACKUP_FAILED = "backup_failed", "Backup failed"
    BACKUP_SUCCESS = "backup_success", "Backup succeeded"
    CONNECTION_LOST = "connection_lost", "Connection lost"
    CONNECTION_RESTORED = "connection_restored", "Connection restored"
    STORAGE_FULL = "storage_full", "Storage full"
    STORAGE_UNREACHABLE = "storage_unreachable", "Storage unreachable"
    HEALTH_DEGRADED = "health_degraded", "Health degraded"
    CLEANUP_COMPLETED = "cleanup_completed", "Cleanup completed"
    RESTORE_COMPLETED = "restore_completed", "Restore completed"
    RESTORE_FAILED = "restore_failed", "Restore failed"
    VERIFICATION_FAILED = "verification_failed", "Verification failed"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class EntityType(models.TextChoices):
    DATASOURCE = "datasource", "Datasource"
    BACKUP_JOB = "backup_job", "Backup job"
    STORAGE_LOCATION = "storage_location", "Storage location"
    SYSTEM = "system", "System"
    BACKUP_EXECUTION = "backup_execution", "Backup execution"


class Notification(models.Model):
    """An alert or event (seed table ``notifications``). ``entity_id`` points at the row of
    ``entity_type`` it is about (no foreign key: the entity may be deleted later, the record
    of what happened stays)."""

    Type = NotificationType
    Severity = Severity
    EntityType = EntityType

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=NotificationType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    entity_type = models.CharField(max_length=20, choices=EntityType.choices)
    entity_id = models.UUIDField(null=True, blank=True)
    title = models.CharField(max_length=255)
    message = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                models.F("created_at").desc(), "read_at", name="notifications_created_read_idx"
            ),
            models.Index(fields=["entity_type", "entity_id"], name="notifications_entity_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=NotificationType.values),
                name="notifications_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["info", "warning", "critical"]),
                name="notifications_severity_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(entity_type__in=EntityType.values),
                name="notifications_entity_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
