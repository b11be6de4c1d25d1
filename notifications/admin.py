"""Admin of notifications."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString
from unfold.contrib.filters.admin import RangeDateTimeFilter

from core.admin_base import ModelAdmin, TabularInline
from core.admin_forms import ReadOnlyMixin, TypedConfigAdmin, config_field_names, status_badge
from core.display import zoned_time
from core.paginator import CappedPaginator
from notifications.channels import CHANNELS
from notifications.delivery import send_test
from notifications.models import Delivery, Notification, NotificationChannel


class DeliveryInline(ReadOnlyMixin, TabularInline[Delivery, Notification]):
    model = Delivery
    fields = ["created_at", "channel", "attempt", "status", "code", "latency_ms", "error"]
    readonly_fields = ["created_at", "channel", "attempt", "status", "code", "latency_ms", "error"]
    extra = 0
    ordering = ["created_at"]


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> QuerySet[Notification]:
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(ModelAdmin[Notification]):
    list_display = ["title", "type", "severity_badge", "entity_type", "is_read", "created"]
    list_filter = [
        ReadFilter,
        "severity",
        "type",
        "entity_type",
        ("created_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True  # the date range is typed in, then applied
    search_fields = ["title", "message", "=entity_id"]
    ordering = ["-created_at"]
    show_full_result_count = False
    paginator = CappedPaginator
    readonly_fields = ["read_at", "dispatched_at"]
    actions = ["mark_as_read", "mark_as_unread"]
    inlines = [DeliveryInline]
    fieldsets = [
        (None, {"fields": ["title", "message", "type", "severity"]}),
        (
            "About",
            {
                "fields": ["entity_type", "entity_id", "metadata"],
                "description": "The object the notification is about (it may since have been "
                "deleted).",
            },
        ),
        ("State", {"fields": ["created_at", "read_at", "dispatched_at"]}),
    ]

    @admin.display(description="Severity", ordering="severity")
    def severity_badge(self, obj: Notification) -> SafeString:
        return status_badge(obj.severity, obj.get_severity_display())

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Notification) -> SafeString:
        return zoned_time(obj.created_at)

    @admin.display(description="Read", boolean=True, ordering="read_at")
    def is_read(self, obj: Notification) -> bool:
        return obj.is_read

    @admin.action(description="Mark the selected notifications as read")
    def mark_as_read(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        self.message_user(request, f"Marked {count} notification(s) as read.")

    @admin.action(description="Mark the selected notifications as unread")
    def mark_as_unread(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = queryset.filter(read_at__isnull=False).update(read_at=None)
        self.message_user(request, f"Marked {count} notification(s) as unread.")


@admin.register(NotificationChannel)
class NotificationChannelAdmin(TypedConfigAdmin[NotificationChannel]):
    registry = CHANNELS
    config_attr = "config"
    list_display = [
        "name",
        "type",
        "enabled",
        "min_severity",
        "state_badge",
        "last_success_at",
        "last_failure_at",
    ]
    list_filter = ["type", "enabled", "min_severity"]
    search_fields = ["name"]
    ordering = ["name"]
    actions = ["send_test_notification"]
    readonly_fields = ["type", *NotificationChannel.STATE_FIELDS]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        config_type = self.config_type_for(request, obj)
        label = dict(CHANNELS.choices()).get(config_type, config_type)
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "type", "enabled"]}),
            (
                f"Settings ({label})",
                {
                    "fields": config_field_names(CHANNELS, config_type),
                    "description": "Secrets are stored encrypted and never shown; leave a "
                    "secret blank to keep it.",
                },
            ),
            (
                "Rule",
                {
                    "fields": [
                        "min_severity",
                        "event_types",
                        "every_failure",
                        "job_ids",
                        "datasource_ids",
                        "tags",
                    ],
                    "description": "Which notifications go out here. Event types: a JSON list "
                    'such as ["backup_failed", "backup_stale"] (empty: every type but '
                    "backup_success). Scope: JSON lists of job ids, datasource ids or datasource "
                    "tags (all empty: everything).",
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "State",
                    {
                        "fields": list(NotificationChannel.STATE_FIELDS),
                        "description": "Kept by the deliveries.",
                    },
                )
            )
        return fieldsets

    @admin.display(description="State", ordering="failing_since")
    def state_badge(self, obj: NotificationChannel) -> SafeString:
        if not obj.enabled:
            return status_badge("unknown", "Paused")
        if obj.failing_since:
            return status_badge("critical", "Failing")
        if obj.last_failure_at and (
            obj.last_success_at is None or obj.last_failure_at > obj.last_success_at
        ):
            return status_badge("warning", "Last delivery failed")
        return status_badge("healthy", "OK")

    @admin.action(description="Send a test notification through the selected channels")
    def send_test_notification(
        self, request: HttpRequest, queryset: QuerySet[NotificationChannel]
    ) -> None:
        for channel in queryset:
            record = send_test(channel)
            if record.status == Delivery.Status.SENT:
                code = f" ({record.code})" if record.code else ""
                self.message_user(request, f"{channel.name}: sent{code} to {record.target}.")
            else:
                self.message_user(
                    request,
                    f"{channel.name}: failed — {record.error or record.response}",
                    level="error",
                )


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, ModelAdmin[Delivery]):
    list_display = [
        "created",
        "channel",
        "notification",
        "attempt",
        "status_badge",
        "code",
        "latency_ms",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["channel", "notification"]
    search_fields = ["=notification__id", "error"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = CappedPaginator

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Delivery) -> SafeString:
        return zoned_time(obj.created_at)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Delivery) -> SafeString:
        level = {"sent": "healthy", "retrying": "warning", "failed": "critical"}[obj.status]
        return status_badge(level, obj.get_status_display())
