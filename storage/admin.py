"""Admin of storage locations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString

from core.admin_forms import TypedConfigAdmin, config_field_names, status_badge
from storage.adapters import ADAPTERS
from storage.models import StorageLocation


@admin.register(StorageLocation)
class StorageLocationAdmin(TypedConfigAdmin[StorageLocation]):
    registry = ADAPTERS
    config_attr = "config"
    list_display = ["name", "type", "status_badge", "is_default", "available_space_gb"]
    list_filter = ["type", "status", "is_default"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = [
        "type",
        "status",
        "available_space_gb",
        "config_summary",
        "created_at",
        "updated_at",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        config_type = self.config_type_for(request, obj)
        label = dict(ADAPTERS.choices()).get(config_type, config_type)
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (
                None,
                {
                    "fields": ["name", "type", "is_default"],
                    "description": "The default location is preselected for new backup jobs; "
                    "at most one location is the default.",
                },
            ),
            (
                f"Settings ({label})",
                {
                    "fields": config_field_names(ADAPTERS, config_type),
                    "description": "Where and how backups are written. Secrets are stored "
                    "encrypted and never shown; leave a secret blank to keep it.",
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "State",
                    {
                        "fields": [
                            "status",
                            "available_space_gb",
                            "config_summary",
                            "created_at",
                            "updated_at",
                        ],
                        "description": "Kept up to date by the storage checks.",
                    },
                )
            )
        return fieldsets

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: StorageLocation) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())
