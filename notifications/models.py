"""Notifications: what DataGuardian tells the operator."""

from __future__ import annotations

import builtins
import uuid

from django.db import models
from django.utils import timezone

from core.fields import EncryptedConfigField
from core.validation import clean_typed_config, validate_tags
from notifications.channels import CHANNELS
from notifications.channels import choices as channel_choices
from notifications.channels.base import Channel


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
    BACKUP_STALE = "backup_stale", "Backup stale"
    BACKUP_RECOVERED = "backup_recovered", "Backup recovered"
    BACKUP_ANOMALY = "backup_anomaly", "Backup anomaly"
    VERIFICATION_OVERDUE = "verification_overdue", "Verification overdue"
    RPO_TARGET_MISSED = "rpo_target_missed", "RPO target missed"
    RTO_TARGET_MISSED = "rto_target_missed", "RTO target missed"
    CHANNEL_FAILING = "channel_failing", "Notification channel failing"
    TEST = "test", "Test notification"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.value]


SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
# What a channel sends when its rule names no event types: everything but routine successes.
DEFAULT_EVENT_TYPES = [
    t for t in NotificationType.values if t not in (NotificationType.BACKUP_SUCCESS, "test")
]


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
    # When the delivery task fanned it out to the channels; a notification left undispatched
    # (its message lost with the broker) is sent again by the periodic sweep.
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                models.F("created_at").desc(), "read_at", name="notifications_created_read_idx"
            ),
            models.Index(fields=["entity_type", "entity_id"], name="notifications_entity_idx"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="notifications_undispatched_idx",
            ),
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


def _validate_event_types(value: object) -> None:
    from django.core.exceptions import ValidationError

    if not isinstance(value, list) or any(v not in NotificationType.values for v in value):
        raise ValidationError(
            f"A list of notification types: {', '.join(NotificationType.values)}."
        )


def _validate_ids(value: object) -> None:
    import uuid as _uuid

    from django.core.exceptions import ValidationError

    if not isinstance(value, list):
        raise ValidationError("A list of ids.")
    for item in value:
        try:
            _uuid.UUID(str(item))
        except ValueError as exc:
            raise ValidationError(f"{item!r} is not an id.") from exc


class NotificationChannel(models.Model):
    """Somewhere notifications are sent: an e-mail server, a webhook, Apprise URLs.

    The rule: a notification goes to the channel when the channel is enabled, the
    notification is at least ``min_severity``, its type is in ``event_types`` (empty: every
    type but ``backup_success``) and it is in scope: when ``job_ids``, ``datasource_ids`` or
    ``tags`` are set, it must be about one of those jobs, one of those datasources, or a
    datasource with one of those tags. A ``backup_failed`` goes out once per failure streak
    unless ``every_failure``. ``consecutive_failures`` counts deliveries that failed for good
    in a row; at the system's threshold the channel is marked failing (``failing_since``) and
    the other channels are told.
    """

    # Kept by the system: read-only in the admin and the API.
    STATE_FIELDS = (
        "managed_by",
        "consecutive_failures",
        "failing_since",
        "last_success_at",
        "last_failure_at",
        "created_at",
        "updated_at",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=20, choices=channel_choices)
    config = EncryptedConfigField(
        default=dict, encrypted_keys_from="notifications.channels.secret_fields"
    )
    enabled = models.BooleanField(default=True, help_text="Untick to pause the channel.")
    min_severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.WARNING
    )
    event_types = models.JSONField(
        default=list,
        blank=True,
        validators=[_validate_event_types],
        help_text="Empty: every type but backup_success.",
    )
    job_ids = models.JSONField(default=list, blank=True, validators=[_validate_ids])
    datasource_ids = models.JSONField(default=list, blank=True, validators=[_validate_ids])
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    every_failure = models.BooleanField(
        default=False, help_text="Send every failed backup, not only the first of a streak."
    )
    # Set when the channel mirrors the seed's notifications.* system settings.
    managed_by = models.CharField(max_length=100, blank=True, default="", editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_channels"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=CHANNELS.names()),
                name="notification_channels_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(min_severity__in=["info", "warning", "critical"]),
                name="notification_channels_severity_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def channel(self) -> builtins.type[Channel]:
        """The channel class of this type; ``row.channel(row.config)`` is a channel."""
        return CHANNELS.get(self.type)

    def clean(self) -> None:
        super().clean()
        self.config = clean_typed_config(CHANNELS, self.type, self.config, "config")


class Delivery(models.Model):
    """One attempt to send one notification through one channel: an append-only log."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="deliveries"
    )
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices)
    code = models.IntegerField(null=True, blank=True, help_text="HTTP status or SMTP reply code.")
    response = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    latency_ms = models.PositiveIntegerField(default=0)
    target = models.CharField(max_length=1024, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "notification_deliveries"
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(models.F("created_at").desc(), name="deliveries_created_idx"),
            models.Index(fields=["channel", "created_at"], name="deliveries_channel_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["sent", "retrying", "failed"]),
                name="notification_deliveries_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} via {self.channel_id}: {self.status}"
