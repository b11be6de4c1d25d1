"""Admin of storage locations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.safestring import SafeString

from core.admin_actions import ConnectionTestMixin
from core.admin_forms import TypedConfigAdmin, config_field_names, status_badge
from core.display import human_size
from storage.adapters import ADAPTERS
from storage.health import check_location
from storage.models import StorageLocation


@admin.register(StorageLocation)
class StorageLocationAdmin(ConnectionTestMixin, TypedConfigAdmin[StorageLocation]):
    registry = ADAPTERS
    config_attr = "config"
    list_display = ["name", "type", "status_badge", "is_default", "available_space_gb"]
    list_filter = ["type", "status", "is_default"]
    search_fields = ["name"]
    ordering = ["name"]
    actions = ["test_connection"]
    readonly_fields = [
        "type",
        "status",
        "available_space_gb",
        "config_summary",
        "created_at",
        "updated_at",
    ]

    def connection_test(self, obj: StorageLocation) -> tuple[int, str]:
        """The stored location checked now (reachable, writable, free space), as the API's
        test-connection does; the status and free space are stored with it."""
        result = check_location(obj)
        label = StorageLocation.Status(result.status).label
        free = (
            f", {human_size(result.available_bytes)} free"
            if result.available_bytes is not None
            else ""
        )
        if result.status == StorageLocation.Status.HEALTHY:
            return messages.SUCCESS, f"{obj.name}: {label}{free}."
        level = messages.WARNING if result.status == StorageLocation.Status.FULL else messages.ERROR
        return level, f"{obj.name}: {label}{free}: {result.message or 'no reason given'}"

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
