"""Admin of datasources and their (read-only) health history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from unfold.contrib.filters.admin import RangeDateTimeFilter

from core.admin_actions import ConnectionTestMixin
from core.admin_base import ModelAdmin
from core.admin_forms import TypedConfigAdmin, config_field_names, status_badge
from core.paginator import CappedPaginator
from datasources.api import TEST_TIMEOUT_SECONDS
from datasources.engines import ENGINES
from datasources.health import check_datasource
from datasources.models import Datasource, HealthCheck


@admin.register(Datasource)
class DatasourceAdmin(ConnectionTestMixin, TypedConfigAdmin[Datasource]):
    registry = ENGINES
    config_attr = "connection_config"
    list_display = [
        "name",
        "type",
        "status_badge",
        "enabled",
        "last_health_check_at",
        "tag_list",
    ]
    list_filter = ["type", "status", "enabled"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = [
        "type",
        "status",
        "last_health_check_at",
        "config_summary",
        "created_at",
        "updated_at",
    ]
    actions = ["enable", "disable", "test_connection"]

    def connection_test(self, obj: Datasource) -> tuple[int, str]:
        """The stored connection checked now and recorded as a health check, as the API's
        test-connection does; the error text is masked of the datasource's secrets. The
        message links to the health check it recorded."""
        check = check_datasource(obj, timeout=TEST_TIMEOUT_SECONDS)
        latency = f" in {check.latency_ms} ms" if check.latency_ms is not None else ""
        link = reverse("admin:datasources_healthcheck_change", args=[check.pk])
        if check.status == HealthCheck.Status.OK:
            note = f" ({check.error_message})" if check.error_message else ""
            text = f"{obj.name}: connection OK{latency}{note}."
            level = messages.SUCCESS
        else:
            reason = check.error_message or "no reason given"
            text = f"{obj.name}: {check.get_status_display()}{latency}: {reason}"
            level = messages.ERROR
        return level, format_html("{} <a href='{}'>Health check</a>", text, link)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        config_type = self.config_type_for(request, obj)
        label = dict(ENGINES.choices()).get(config_type, config_type)
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "type", "enabled", "tags"]}),
            (
                f"Connection ({label})",
                {
                    "fields": config_field_names(ENGINES, config_type),
                    "description": "How DataGuardian reaches the data. Secrets are stored "
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
                            "last_health_check_at",
                            "config_summary",
                            "created_at",
                            "updated_at",
                        ],
                        "description": "Kept up to date by the health checks.",
                    },
                )
            )
        return fieldsets

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Datasource) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Tags")
    def tag_list(self, obj: Datasource) -> str:
        return ", ".join(obj.tags or [])

    @admin.action(description="Enable the selected datasources")
    def enable(self, request: HttpRequest, queryset: QuerySet[Datasource]) -> None:
        count = queryset.update(enabled=True)
        self.message_user(request, f"Enabled {count} datasource(s).")

    @admin.action(description="Disable the selected datasources")
    def disable(self, request: HttpRequest, queryset: QuerySet[Datasource]) -> None:
        count = queryset.update(enabled=False)
        self.message_user(request, f"Disabled {count} datasource(s).")


@admin.register(HealthCheck)
class HealthCheckAdmin(ModelAdmin[HealthCheck]):
    """Health history is a record of what happened: viewable, never edited."""

    list_display = ["datasource", "checked_at", "status_badge", "latency_ms", "short_error"]
    list_filter = ["status", "datasource", "datasource__type", ("checked_at", RangeDateTimeFilter)]
    list_filter_submit = True  # the date range is typed in, then applied
    list_select_related = ["datasource"]
    paginator = CappedPaginator
    search_fields = ["datasource__name", "error_message"]
    ordering = ["-checked_at"]
    show_full_result_count = False
    readonly_fields = [
        "datasource",
        "checked_at",
        "status",
        "latency_ms",
        "error_message",
        "metadata",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: HealthCheck) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Error")
    def short_error(self, obj: HealthCheck) -> SafeString:
        message = obj.error_message or ""
        return format_html("{}", message if len(message) <= 80 else f"{message[:79]}…")
