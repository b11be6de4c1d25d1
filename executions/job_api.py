"""``/api/backup-jobs``: the jobs' CRUD (``jobs.api``) plus the actions that need executions,
which live here so that ``jobs`` never imports ``executions``: run now and retention preview.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from executions.api import ExecutionSerializer
from executions.cleanup import retention_preview
from executions.services import create_backup_execution
from executions.tasks import enqueue_backup
from jobs.api import BackupJobViewSet


class JobViewSet(BackupJobViewSet):
    """Backup jobs. Deleting a job that has executions is refused (409)."""

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
