"""Admin of storage locations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin_actions import ConnectionTestMixin
from core.admin_connection import ConnectionTestedAdmin
from core.admin_delete import ProtectedDeleteMixin
from core.admin_forms import config_field_names, status_badge
from core.display import human_size, zoned_time
from storage.adapters import ADAPTERS
from storage.admin_forms import StorageLocationForm
from storage.health import check_location
from storage.models import StorageLocation


@admin.register(StorageLocation)
class StorageLocationAdmin(
    ProtectedDeleteMixin, ConnectionTestMixin, ConnectionTestedAdmin[StorageLocation]
):
    """Storage locations: per-type settings tested before they are saved."""

    registry = ADAPTERS
    config_attr = "config"
    config_form_base = StorageLocationForm
    list_display = ["name", "type", "status_badge", "is_default", "available_space"]
    list_filter = ["type", "status", "is_default"]
    search_fields = ["name"]
    ordering = ["name"]
    actions = ["test_connection"]
    readonly_fields = [
        "type",
        "status",
        "available_space",
        "config_summary",
        "created",
        "updated",
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
                            "available_space",
                            "config_summary",
                            "created",
                            "updated",
                        ],
                        "description": "Kept up to date by the storage checks.",
                    },
                )
            )
        return fieldsets

    @admin.display(description="Created at", ordering="created_at")
    def created(self, obj: StorageLocation) -> SafeString:
        return zoned_time(obj.created_at)

    @admin.display(description="Updated at", ordering="updated_at")
    def updated(self, obj: StorageLocation) -> SafeString:
        return zoned_time(obj.updated_at)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: StorageLocation) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())

    def protected_advice(self, request: HttpRequest, objs: Any) -> list[SafeString]:
        locations = list(objs)
        query = f"?storage_location__id__exact={locations[0].pk}" if len(locations) == 1 else ""
        return [
            format_html(
                'Point its <a class="underline" href="{}{}">backup jobs</a> at another location '
                "first, and delete the backups stored here from the "
                '<a class="underline" href="{}{}">backup executions list</a> (or let retention '
                "remove them); then the location can be deleted.",
                reverse("admin:jobs_backupjob_changelist"),
                query,
                reverse("admin:executions_backupexecution_changelist"),
                query,
            )
        ]

    @admin.display(description="Available space", ordering="available_space_gb")
    def available_space(self, obj: StorageLocation) -> str:
        if obj.available_space_gb is None:
            return "—"
        return human_size(int(obj.available_space_gb * 1024**3))

    def save_model(
        self, request: HttpRequest, obj: StorageLocation, form: Any, change: bool
    ) -> None:
        if isinstance(form, StorageLocationForm) and form.saved_untested:
            # Saved despite a failed test: not known to work until the next check says so.
            obj.status = StorageLocation.Status.UNKNOWN
        super().save_model(request, obj, form, change)
        if isinstance(form, StorageLocationForm) and form.connection_passed:
            # As the API does after saving: record the status and free space it now has.
            check_location(obj)
