"""Admin of datasources and their (read-only) health history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from unfold.contrib.filters.admin import RangeDateTimeFilter

from core.admin_actions import ConnectionTestMixin
from core.admin_base import ModelAdmin
from core.admin_connection import ConnectionTestedAdmin
from core.admin_delete import ProtectedDeleteMixin
from core.admin_forms import config_field_names, status_badge
from core.display import human_duration, zoned_time
from core.paginator import CappedPaginator
from datasources.admin_forms import DatasourceForm, tag_chips
from datasources.connection import TEST_TIMEOUT_SECONDS
from datasources.engines import ENGINES
from datasources.health import check_datasource
from datasources.models import Datasource, HealthCheck


@admin.register(Datasource)
class DatasourceAdmin(ProtectedDeleteMixin, ConnectionTestMixin, ConnectionTestedAdmin[Datasource]):
    """Datasources: per-type connection settings tested before they are saved, tags as a
    comma-separated list."""

    registry = ENGINES
    config_attr = "connection_config"
    config_form_base = DatasourceForm
    list_display = [
        "name",
        "type",
        "status_badge",
        "enabled",
        "last_checked",
        "tag_list",
    ]
    list_filter = ["type", "status", "enabled"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = [
        "type",
        "status",
        "last_checked",
        "config_summary",
        "created",
        "updated",
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
                            "last_checked",
                            "config_summary",
                            "created",
                            "updated",
                        ],
                        "description": "Kept up to date by the health checks.",
                    },
                )
            )
        return fieldsets

    @admin.display(description="Created at", ordering="created_at")
    def created(self, obj: Datasource) -> SafeString:
        return zoned_time(obj.created_at)

    @admin.display(description="Updated at", ordering="updated_at")
    def updated(self, obj: Datasource) -> SafeString:
        return zoned_time(obj.updated_at)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Datasource) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Last health check", ordering="last_health_check_at")
    def last_checked(self, obj: Datasource) -> SafeString:
        return zoned_time(obj.last_health_check_at)

    @admin.display(description="Tags")
    def tag_list(self, obj: Datasource) -> SafeString:
        return tag_chips(obj.tags)

    def save_model(self, request: HttpRequest, obj: Datasource, form: Any, change: bool) -> None:
        # The form's connection test is the first health check of these settings: a passing
        # one is recorded in the status as the API does, settings saved untested are Unknown
        # until the next periodic check.
        if isinstance(form, DatasourceForm):
            if form.connection_passed:
                warning = getattr(form, "connection_warning", "")
                obj.status = Datasource.Status.WARNING if warning else Datasource.Status.HEALTHY
                obj.last_health_check_at = timezone.now()
            elif form.saved_untested:
                obj.status = Datasource.Status.UNKNOWN
        super().save_model(request, obj, form, change)

    def protected_advice(self, request: HttpRequest, objs: Any) -> list[SafeString]:
        sources = list(objs)
        query = f"?datasource__id__exact={sources[0].pk}" if len(sources) == 1 else ""
        return [
            format_html(
                "{}",
                "To stop backing up a datasource but keep its backups restorable, disable it "
                "instead (the “Disable the selected datasources” action), or disable its jobs.",
            ),
            format_html(
                "To remove it for good, first delete or move its "
                '<a class="underline" href="{}{}">backup jobs</a> and delete their backups from '
                'the <a class="underline" href="{}">backup executions list</a>.',
                reverse("admin:jobs_backupjob_changelist"),
                query,
                reverse("admin:executions_backupexecution_changelist"),
            ),
        ]

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

    list_display = ["datasource", "checked", "status_badge", "latency", "short_error"]
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
        "latency",
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

    @admin.display(description="Checked at", ordering="checked_at")
    def checked(self, obj: HealthCheck) -> SafeString:
        return zoned_time(obj.checked_at)

    @admin.display(description="Latency", ordering="latency_ms")
    def latency(self, obj: HealthCheck) -> str:
        return human_duration(obj.latency_ms / 1000 if obj.latency_ms is not None else None)

    @admin.display(description="Error")
    def short_error(self, obj: HealthCheck) -> SafeString:
        message = obj.error_message or ""
        return format_html("{}", message if len(message) <= 80 else f"{message[:79]}…")
