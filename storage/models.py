"""Storage locations: where backups are written."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from django.db import models

from core.fields import EncryptedConfigField
from core.validation import clean_typed_config
from storage.adapters import ADAPTERS
from storage.adapters import choices as adapter_choices
from storage.adapters.base import StorageAdapter


class StorageLocation(models.Model):
    """A place backups are written to (seed table ``storage_locations``).

    ``config`` has one structure per ``type``, declared once by the type's adapter
    (``storage.adapters``); its secret keys are encrypted at rest. At most one location is the
    default.
    """

    class Status(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        FULL = "full", "Full"
        UNREACHABLE = "unreachable", "Unreachable"
        # Not checked yet: a new location must not look healthy before anything proved it.
        UNKNOWN = "unknown", "Unknown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=adapter_choices)
    config = EncryptedConfigField(
        default=dict, encrypted_keys_from="storage.adapters.secret_fields"
    )
    is_default = models.BooleanField(default=False)
    available_space_gb = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNKNOWN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "storage_locations"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="storage_locations_one_default",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=ADAPTERS.names()), name="storage_locations_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["healthy", "full", "unreachable", "unknown"]),
                name="storage_locations_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def reference(self) -> dict[str, Any]:
        """How notifications name this location (``metadata["storage_location"]``)."""
        return {"id": str(self.pk), "name": self.name, "type": self.type}

    @property
    def adapter(self) -> builtins.type[StorageAdapter]:
        """The adapter class of this location's type; ``location.adapter(location.config)``
        is an adapter."""
        return ADAPTERS.get(self.type)

    def clean(self) -> None:
        super().clean()
        self.config = clean_typed_config(ADAPTERS, self.type, self.config, "config")
