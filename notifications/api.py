"""``/api/notifications``: list, filter, mark read."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ReadOnlyViewSet
from notifications.models import Notification, NotificationType, Severity


class NotificationSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "type",
            "severity",
            "entity_type",
            "entity_id",
            "title",
            "message",
            "metadata",
            "read_at",
            "is_read",
            "created_at",
        ]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(method="filter_unread", label="Only unread (or read)")
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    type = django_filters.ChoiceFilter(choices=NotificationType.choices)

    class Meta:
        model = Notification
        fields = ["unread", "severity", "type", "entity_type"]

    def filter_unread(
        self, queryset: QuerySet[Notification], name: str, value: bool
    ) -> QuerySet[Notification]:
        return queryset.filter(read_at__isnull=value)


class NotificationViewSet(ReadOnlyViewSet):
    """Notifications, newest first. They are created by the system, never through the API."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ["created_at", "severity"]
    ordering = ["-created_at"]

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        """Mark one notification read (reading it again keeps the first time)."""
        notification: Notification = self.get_object()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None,
        responses={200: inline_serializer("ReadAll", {"marked": serializers.IntegerField()})},
    )
    @action(detail=False, methods=["post"], url_path="read-all", filterset_class=None)
    def read_all(self, request: Request) -> Response:
        """Mark every unread notification read; answers how many were."""
        marked = Notification.objects.filter(read_at__isnull=True).update(read_at=timezone.now())
        return Response({"marked": marked})
