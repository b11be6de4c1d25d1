"""Admin of notifications."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString

from core.admin_forms import status_badge
from notifications.models import Notification


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
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = ["title", "type", "severity_badge", "entity_type", "is_read", "created_at"]
    list_filter = [ReadFilter, "severity", "type", "entity_type"]
    search_fields = ["title", "message", "=entity_id"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ["read_at"]
    actions = ["mark_as_read", "mark_as_unread"]
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
        ("State", {"fields": ["created_at", "read_at"]}),
    ]

    @admin.display(description="Severity", ordering="severity")
    def severity_badge(self, obj: Notification) -> SafeString:
        return status_badge(obj.severity, obj.get_severity_display())

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
