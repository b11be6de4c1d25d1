"""``/api/notifications``: list, filter, mark read; ``/api/notification-channels``: CRUD and
test; ``/api/notification-deliveries``: the delivery log."""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import (
    ConfigField,
    ModelViewSet,
    ReadOnlyViewSet,
    StrictModelSerializer,
    merge_typed_config,
)
from core.registry import Registry
from notifications.channels import CHANNELS
from notifications.delivery import send_test
from notifications.models import (
    Delivery,
    Notification,
    NotificationChannel,
    NotificationType,
    Severity,
)


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


# --- Channels and their delivery log --------------------------------------------------------


#: The channel types, as the API's schema names them (NotificationChannelTypeEnum).
CHANNEL_TYPES = CHANNELS.names()


class ChannelConfigField(ConfigField):
    registry: ClassVar[Registry[Any]] = CHANNELS


class NotificationChannelSerializer(StrictModelSerializer):
    """A channel; ``config`` follows the schema of its ``type``, secrets write-only."""

    type = serializers.ChoiceField(choices=CHANNEL_TYPES)
    config = ChannelConfigField()
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationType.choices),
        required=False,
        help_text="Empty: every type but backup_success.",
    )
    job_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    datasource_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "type",
            "config",
            "enabled",
            "min_severity",
            "event_types",
            "job_ids",
            "datasource_ids",
            "tags",
            "every_failure",
            *NotificationChannel.STATE_FIELDS,
        ]
        read_only_fields = ["id", *NotificationChannel.STATE_FIELDS]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: NotificationChannel | None = self.instance
        if instance is not None and instance.managed_by and "config" in attrs:
            detail = f"This channel mirrors the setting {instance.managed_by}; change that."
            raise serializers.ValidationError({"config": [detail]})
        merge_typed_config(CHANNELS, attrs, instance, "config", "channel")
        for name in ("job_ids", "datasource_ids"):
            if name in attrs:
                attrs[name] = [str(value) for value in attrs[name]]
        return attrs


class DeliverySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    channel_name = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "channel",
            "channel_name",
            "attempt",
            "status",
            "code",
            "response",
            "error",
            "latency_ms",
            "target",
            "created_at",
        ]
        read_only_fields = fields


class NotificationChannelViewSet(ModelViewSet):
    """Notification channels: where notifications are sent, and which ones."""

    queryset = NotificationChannel.objects.all()
    serializer_class = NotificationChannelSerializer
    filterset_fields = ["type", "enabled"]
    ordering_fields = ["name", "type", "created_at"]
    ordering = ["name"]

    @extend_schema(request=None, responses={200: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a test notification through this channel now, the way real ones go; answers
        the recorded attempt (``status`` sent or failed, with the code and the error)."""
        record = send_test(self.get_object())
        return Response(DeliverySerializer(record).data)


class DeliveryFilter(django_filters.FilterSet):
    class Meta:
        model = Delivery
        fields = ["channel", "notification", "status"]


class DeliveryViewSet(ReadOnlyViewSet):
    """Every delivery attempt, newest first: channel, status, code, latency, error."""

    queryset = Delivery.objects.select_related("channel")
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]
