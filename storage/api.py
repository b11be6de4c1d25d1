"""``/api/storage-locations``: CRUD and connection test.

Creating or changing a location tests it first (reach it, write and remove a file); one that
fails is refused with the adapter's reason. At most one location is the default: making one the
default unsets the previous one in the same transaction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ConfigField, ModelViewSet, StrictModelSerializer, merge_typed_config
from core.registry import Registry
from storage.adapters import ADAPTERS
from storage.connection import test_connection
from storage.health import check_location
from storage.models import StorageLocation


class StorageConfigField(ConfigField):
    registry: ClassVar[Registry[Any]] = ADAPTERS


class StorageLocationSerializer(StrictModelSerializer):
    """A storage location; ``config`` follows the schema of its ``type``, secrets write-only."""

    type = serializers.ChoiceField(choices=ADAPTERS.names())
    config = StorageConfigField()
    # Declared, not generated: the generated field would carry a uniqueness validator from the
    # one-default constraint and refuse a second default instead of moving it.
    is_default = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = StorageLocation
        fields = [
            "id",
            "name",
            "type",
            "config",
            "is_default",
            "available_space_gb",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "available_space_gb", "status", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: StorageLocation | None = self.instance
        type_name = attrs.get("type") or (instance.type if instance else "")
        if merge_typed_config(ADAPTERS, attrs, instance, "config", "storage location"):
            reason = test_connection(type_name, attrs["config"])
            if reason:
                raise serializers.ValidationError({"config": [f"Connection test failed: {reason}"]})
        return attrs

    def _unset_other_default(self, attrs: dict[str, Any]) -> None:
        if attrs.get("is_default"):
            others = StorageLocation.objects.select_for_update().filter(is_default=True)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            others.update(is_default=False)

    def create(self, validated_data: dict[str, Any]) -> StorageLocation:
        with transaction.atomic():
            self._unset_other_default(validated_data)
            location: StorageLocation = super().create(validated_data)
        check_location(location)
        return location

    def update(self, instance: StorageLocation, validated_data: dict[str, Any]) -> StorageLocation:
        with transaction.atomic():
            self._unset_other_default(validated_data)
            location: StorageLocation = super().update(instance, validated_data)
        if "config" in validated_data:
            check_location(location)
        return location


class StorageLocationViewSet(ModelViewSet):
    """Storage locations. Deleting one that jobs or executions use is refused (409)."""

    queryset = StorageLocation.objects.all()
    serializer_class = StorageLocationSerializer
    filterset_fields = ["type", "status", "is_default"]
    ordering_fields = ["name", "type", "status", "created_at"]
    ordering = ["name"]
    in_use_detail = "Backup jobs or executions use this location; delete them first."

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "StorageTestResult",
                {
                    "status": serializers.CharField(),
                    "available_space_gb": serializers.DecimalField(
                        max_digits=14, decimal_places=3, allow_null=True
                    ),
                    "message": serializers.CharField(),
                },
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request: Request, pk: str | None = None) -> Response:
        """Check the stored location now: status, free space and, when it fails, why."""
        location = self.get_object()
        result = check_location(location)
        return Response(
            {
                "status": result.status,
                "available_space_gb": (
                    str(location.available_space_gb)
                    if location.available_space_gb is not None
                    else None
                ),
                "message": result.message,
            }
        )
