"""``/api/executions``: list and inspect runs, cancel, delete (artifact first), download.

The list is the busiest endpoint (a dashboard polls it, the table grows by every run): one
query counts, one reads the page without joins, one more reads the page's chunks, whatever
the page size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ReadOnlyViewSet
from core.queues import PRIORITY_MANUAL
from core.registry import ConfigSchema
from datasources.engines import assembled_schema
from datasources.models import Datasource
from executions import verification
from executions.downloads import NothingToDownload, artifact_response, downloadable_chunks
from executions.models import BackupChunk, BackupExecution, IllegalTransition
from executions.restore import RestoreRefused, restore_execution
from executions.services import DeleteRefused, delete_execution
from executions.tasks import enqueue_restore, enqueue_verification
from storage.adapters.base import StorageError


class ChunkSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = BackupChunk
        fields = ["chunk_number", "file_path", "size_bytes", "checksum", "created_at"]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """An execution with its chunks and its live ``progress``."""

    job_id = serializers.UUIDField(read_only=True)
    datasource_id = serializers.UUIDField(read_only=True)
    storage_location_id = serializers.UUIDField(read_only=True)
    source_execution_id = serializers.UUIDField(read_only=True, allow_null=True)
    chunks = ChunkSerializer(many=True, read_only=True)

    class Meta:
        model = BackupExecution
        fields = [
            "id",
            "job_id",
            "datasource_id",
            "storage_location_id",
            "kind",
            "trigger",
            "status",
            "backup_type",
            "created_at",
            "scheduled_for",
            "started_at",
            "finished_at",
            "duration_seconds",
            "size_bytes",
            "compressed_size_bytes",
            "backup_path",
            "files_count",
            "error_message",
            "metadata",
            "progress",
            "attempt",
            "heartbeat_at",
            "worker",
            "source_execution_id",
            "chunks",
        ]
        read_only_fields = fields


class ExecutionDetailSerializer(ExecutionSerializer):
    """One execution, with its own log tail (``log_tail``: the run's newest log lines, INFO
    and above, secrets masked)."""

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "log_tail"]
        read_only_fields = fields


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses offsets past 15:59 hours,
    which Python accepts, and a date at the edge of the calendar has no UTC value at all."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("Enter a date-time between the years 1 and 9999.") from exc


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class ExecutionFilter(django_filters.FilterSet):
    job = django_filters.UUIDFilter(field_name="job_id")
    datasource = django_filters.UUIDFilter(field_name="datasource_id")
    storage = django_filters.UUIDFilter(field_name="storage_location_id")
    status = django_filters.ChoiceFilter(choices=BackupExecution.Status.choices)
    kind = django_filters.ChoiceFilter(choices=BackupExecution.Kind.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = BackupExecution
        fields = ["job", "datasource", "storage", "status", "kind", "created_after"]


class JSONErrorsNegotiation(BaseContentNegotiation):
    """The download's negotiation: whatever the client accepts, the artifact is sent as bytes
    (a response of its own, not rendered) and an error as JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


#: Every engine's restore options; a restore takes those of its target's engine
#: (``Engine.restore_options_schema``, checked by ``restore_execution``).
RestoreOptionsSerializer = assembled_schema("RestoreOptionsSerializer", "restore_options_schema")


class RestoreRequestSerializer(ConfigSchema):
    target_datasource_id = serializers.PrimaryKeyRelatedField(
        queryset=Datasource.objects.all(),
        required=False,
        allow_null=True,
        help_text="Where to restore; default: the backup's own datasource.",
    )
    target_path = serializers.CharField(
        required=False,
        allow_blank=False,
        max_length=4096,
        help_text="Files and SQLite: restore into this absolute path instead.",
    )
    options = RestoreOptionsSerializer(required=False)
    confirm = serializers.BooleanField(
        default=False, help_text="Required when the restore writes over existing data."
    )


class ExecutionViewSet(mixins.DestroyModelMixin, ReadOnlyViewSet):
    """Executions (backups and restores). They are records: only cancel and delete change
    them."""

    serializer_class = ExecutionSerializer
    filterset_class = ExecutionFilter
    ordering_fields = ["created_at", "started_at", "finished_at", "status", "compressed_size_bytes"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[BackupExecution]:
        # No joins: the page is cut from the created_at index alone, however deep it is; the
        # related rows are named by id (the client has them from their own endpoints).
        executions = BackupExecution.objects.prefetch_related(
            Prefetch("chunks", queryset=BackupChunk.objects.order_by("chunk_number"))
        )
        # A list leaves out each run's log tail (up to 64 KiB each); one execution has it.
        return executions.defer("log_tail") if self.action == "list" else executions

    def get_serializer_class(self) -> type[ExecutionSerializer]:
        return ExecutionDetailSerializer if self.action == "retrieve" else ExecutionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "confirm",
                OpenApiTypes.BOOL,
                required=True,
                description="Must be true: deleting removes the stored backup.",
            )
        ],
        responses={204: None, 409: OpenApiTypes.OBJECT, 502: OpenApiTypes.OBJECT},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the stored artifact, then the record. Needs ``?confirm=true``."""
        execution: BackupExecution = self.get_object()
        if request.query_params.get("confirm", "").lower() != "true":
            return Response(
                {"confirm": ["Deleting removes the stored backup; repeat with ?confirm=true."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            delete_execution(execution)
        except DeleteRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except StorageError as exc:
            return Response(
                {"detail": f"The stored backup could not be deleted: {exc}"},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=RestoreRequestSerializer,
        responses={202: ExecutionSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Restore this backup into its datasource, another one of the same type, or a path.
        Writing over existing data needs ``"confirm": true``. Answers 202 with the queued
        restore execution; follow it at ``/api/executions/{id}``."""
        backup: BackupExecution = self.get_object()
        serializer = RestoreRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            execution = restore_execution(
                backup,
                target_datasource=data.get("target_datasource_id"),
                target_path=data.get("target_path"),
                options=dict(data.get("options") or {}),
                confirm=data["confirm"],
            )
        except RestoreRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        enqueue_restore(execution)
        return Response(self.get_serializer(execution).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ExecutionSerializer, 400: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        """Restore this completed backup into a scratch target and check it, on a worker.
        Answers 202 with the backup, its ``metadata.verification`` marked ``queued``; the
        outcome replaces the marker when the worker is done."""
        backup: BackupExecution = self.get_object()
        if not verification.can_verify(backup):
            return Response(
                {"detail": f"Only completed backups can be verified; {backup.id} is not one."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        enqueue_verification(backup, priority=PRIORITY_MANUAL)
        return Response(self.get_serializer(backup).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: ExecutionSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a queued or running execution; a running one stops at its next step."""
        execution: BackupExecution = self.get_object()
        try:
            execution.cancel()
        except IllegalTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(execution).data)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The artifact, chunks joined in order."
            ),
            (409, "application/json"): OpenApiTypes.OBJECT,
        }
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[renderers.JSONRenderer],
        content_negotiation_class=JSONErrorsNegotiation,
    )
    def download(self, request: Request, pk: str | None = None) -> Any:
        """The backup's artifact as stored (compressed), streamed chunk after chunk."""
        execution: BackupExecution = self.get_object()
        try:
            chunks = downloadable_chunks(execution)
        except NothingToDownload as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return artifact_response(execution, chunks)
