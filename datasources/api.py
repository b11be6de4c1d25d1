"""``/api/datasources``: CRUD, connection test and health history.

Creating or changing a datasource tests its connection first; a datasource that cannot be
reached is refused with the reason, so a job never starts out pointing at nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ConfigField, ModelViewSet, StrictModelSerializer, merge_typed_config
from core.registry import Registry
from core.validation import validate_tags
from datasources.connection import TEST_TIMEOUT_SECONDS, test_connection
from datasources.engines import ENGINES
from datasources.health import check_datasource
from datasources.models import Datasource, HealthCheck


class ConnectionConfigField(ConfigField):
    registry: ClassVar[Registry[Any]] = ENGINES


class HealthCheckSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    datasource_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = HealthCheck
        fields = [
            "id",
            "datasource_id",
            "checked_at",
            "status",
            "latency_ms",
            "error_message",
            "metadata",
        ]
        read_only_fields = fields


class DatasourceSerializer(StrictModelSerializer):
    """A datasource; ``connection_config`` follows the schema of its ``type`` and its secrets
    are write-only (shown masked; left out or sent masked on update, they are kept)."""

    type = serializers.ChoiceField(choices=ENGINES.names())
    connection_config = ConnectionConfigField()
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )

    class Meta:
        model = Datasource
        fields = [
            "id",
            "name",
            "type",
            "connection_config",
            "status",
            "last_health_check_at",
            "enabled",
            "tags",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "last_health_check_at", "created_at", "updated_at"]

    def validate_tags(self, value: list[str]) -> list[str]:
        try:
            validate_tags(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: Datasource | None = self.instance
        type_name = attrs.get("type") or (instance.type if instance else "")
        if merge_typed_config(ENGINES, attrs, instance, "connection_config", "datasource"):
            result = test_connection(type_name, attrs["connection_config"])
            if result.status != "ok":
                raise serializers.ValidationError(
                    {
                        "connection_config": [
                            f"Connection test failed ({result.status}): "
                            f"{result.error_message or 'no reason given'}"
                        ]
                    }
                )
            attrs["status"] = (
                Datasource.Status.WARNING if result.warning else Datasource.Status.HEALTHY
            )
            attrs["last_health_check_at"] = timezone.now()
        return attrs


class DatasourceFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(method="filter_tag", label="Has this tag")

    class Meta:
        model = Datasource
        fields = ["type", "status", "enabled"]

    def filter_tag(self, queryset: QuerySet[Datasource], name: str, value: str) -> Any:
        return queryset.filter(tags__has=value)


class DatasourceViewSet(ModelViewSet):
    """Datasources. Deleting one that jobs use is refused (409)."""

    queryset = Datasource.objects.all()
    serializer_class = DatasourceSerializer
    filterset_class = DatasourceFilter
    ordering_fields = ["name", "type", "status", "created_at"]
    ordering = ["name"]
    in_use_detail = "Backup jobs or executions use this datasource; delete them first."

    @extend_schema(request=None, responses={200: HealthCheckSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request: Request, pk: str | None = None) -> Response:
        """Check the stored connection now and record the result as a health check."""
        datasource = self.get_object()
        check = check_datasource(datasource, timeout=TEST_TIMEOUT_SECONDS)
        return Response(HealthCheckSerializer(check).data)

    @extend_schema(responses={200: HealthCheckSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="health-checks", filterset_class=None)
    def health_checks(self, request: Request, pk: str | None = None) -> Response:
        """The datasource's health checks, newest first."""
        datasource = self.get_object()
        checks = HealthCheck.objects.filter(datasource=datasource).order_by("-checked_at")
        page = self.paginate_queryset(checks)
        serializer = HealthCheckSerializer(page if page is not None else checks, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)
