"""Datasources (what is backed up) and their health history."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from core.fields import EncryptedConfigField
from core.validation import clean_typed_config, validate_tags
from datasources.engines import ENGINES
from datasources.engines import choices as engine_choices
from datasources.engines.base import Engine


class Datasource(models.Model):
    """A database or directory that DataGuardian backs up (seed table ``datasources``).

    ``connection_config`` has one structure per ``type``, declared once by the type's engine
    (``datasources.engines``); its secret keys are encrypted at rest.
    """

    class Status(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"
        UNKNOWN = "unknown", "Unknown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=engine_choices)
    connection_config = EncryptedConfigField(
        default=dict, encrypted_keys_from="datasources.engines.secret_fields"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNKNOWN)
    last_health_check_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "datasources"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=ENGINES.names()), name="datasources_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["healthy", "warning", "critical", "unknown"]),
                name="datasources_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def reference(self) -> dict[str, Any]:
        """How notifications name this datasource (``metadata["datasource"]``): its id, name
        and tags, which channel rules scope by."""
        return {"id": str(self.pk), "name": self.name, "tags": list(self.tags or [])}

    @property
    def engine(self) -> builtins.type[Engine]:
        """The engine class of this datasource's type; ``datasource.engine()`` is an engine."""
        return ENGINES.get(self.type)

    def clean(self) -> None:
        super().clean()
        self.connection_config = clean_typed_config(
            ENGINES, self.type, self.connection_config, "connection_config"
        )


class HealthCheck(models.Model):
    """One health check of a datasource (seed table ``health_checks``)."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        TIMEOUT = "timeout", "Timeout"
        AUTH_FAILED = "auth_failed", "Authentication failed"
        UNREACHABLE = "unreachable", "Unreachable"
        ERROR = "error", "Error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    datasource = models.ForeignKey(
        Datasource, on_delete=models.CASCADE, related_name="health_checks"
    )
    checked_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=20, choices=Status.choices)
    latency_ms = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "health_checks"
        ordering = ["-checked_at"]
        indexes = [
            models.Index(
                "datasource", models.F("checked_at").desc(), name="health_checks_ds_checked_idx"
            ),
            # The admin's list, newest first across every datasource, and the history purge.
            models.Index(models.F("checked_at").desc(), name="health_checks_checked_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["ok", "timeout", "auth_failed", "unreachable", "error"]
                ),
                name="health_checks_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.datasource_id} {self.status} at {self.checked_at:%Y-%m-%d %H:%M:%S}"
