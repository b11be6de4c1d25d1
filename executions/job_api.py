"""``/api/backup-jobs``: the jobs' CRUD (``jobs.api``) plus the actions that need executions,
which live here so that ``jobs`` never imports ``executions``: run now and retention preview,
and each job's read-only ``recoverability`` (``executions.recoverability``).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core import system_settings
from executions import recoverability
from executions.api import ExecutionSerializer
from executions.cleanup import retention_preview
from executions.services import create_backup_execution
from executions.tasks import enqueue_backup
from jobs.api import BackupJobSerializer, BackupJobViewSet

#: The shape of ``recoverability.Recoverability.as_dict()`` (docs/OBSERVABILITY.md).
RecoverabilitySerializer = inline_serializer(
    "Recoverability",
    {
        "rpo_seconds": serializers.FloatField(allow_null=True),
        "verified_rpo_seconds": serializers.FloatField(allow_null=True),
        "expected_rpo_seconds": serializers.FloatField(allow_null=True),
        "rto_seconds": serializers.FloatField(allow_null=True),
        "rto_bytes": serializers.IntegerField(allow_null=True),
        "rpo_target_minutes": serializers.IntegerField(allow_null=True),
        "rto_target_minutes": serializers.IntegerField(allow_null=True),
        "rpo_target_missed": serializers.BooleanField(),
        "rto_target_missed": serializers.BooleanField(),
        "last_completed_at": serializers.DateTimeField(allow_null=True),
        "last_verified_backup_at": serializers.DateTimeField(allow_null=True),
        "last_verification_at": serializers.DateTimeField(allow_null=True),
        "last_verification_status": serializers.CharField(allow_null=True),
        "restore_test_every_days": serializers.IntegerField(),
        "verification_overdue": serializers.BooleanField(),
    },
)


class JobSerializer(BackupJobSerializer):
    """A job with its ``recoverability`` at the time of the request. The view puts ``now``
    and the restore-test setting in the context once, so a list reads the setting once."""

    recoverability = serializers.SerializerMethodField()

    class Meta(BackupJobSerializer.Meta):
        fields = [*BackupJobSerializer.Meta.fields, "recoverability"]
        read_only_fields = [*BackupJobSerializer.Meta.read_only_fields, "recoverability"]

    @extend_schema_field(RecoverabilitySerializer)
    def get_recoverability(self, job: Any) -> dict[str, Any]:
        now = self.context.get("now") or timezone.now()
        days = self.context.get("restore_test_every_days")
        return recoverability.of(job, now, days).as_dict()


class JobViewSet(BackupJobViewSet):
    """Backup jobs. Deleting a job that has executions is refused (409)."""

    serializer_class = JobSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if self.request is not None and self.request.method == "GET":
            context["now"] = timezone.now()
            context["restore_test_every_days"] = int(
                system_settings.get("verification.restore_test_every_days")
            )
        return context

    @extend_schema(request=None, responses={202: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Queue a manual run now (higher priority than scheduled ones); 202 with it."""
        job = self.get_object()
        execution = create_backup_execution(job)
        enqueue_backup(execution)
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            200: inline_serializer(
                "RetentionPreview",
                {
                    "keep": serializers.ListField(child=serializers.DictField()),
                    "delete": serializers.ListField(child=serializers.DictField()),
                    "bytes_to_free": serializers.IntegerField(),
                },
            )
        }
    )
    @action(detail=True, methods=["get"], url_path="retention-preview")
    def retention_preview(self, request: Request, pk: str | None = None) -> Response:
        """What the retention policy keeps (and why) and would delete now."""
        preview = retention_preview(self.get_object())

        def row(execution: Any) -> dict[str, Any]:
            return {
                "id": str(execution.id),
                "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
                "compressed_size_bytes": execution.compressed_size_bytes,
            }

        return Response(
            {
                "keep": [{**row(k.execution), "reasons": k.reasons} for k in preview.keep],
                "delete": [row(e) for e in preview.delete],
                "bytes_to_free": preview.bytes_to_free,
            }
        )
