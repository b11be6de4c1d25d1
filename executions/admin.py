"""Admin of executions and their chunks: an append-only record, so read-only here."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.safestring import SafeString

from core.admin_base import ModelAdmin, TabularInline
from core.admin_forms import ReadOnlyMixin, status_badge
from executions.models import BackupChunk, BackupExecution
from executions.retention_admin import RetentionPreviewMixin
from executions.services import create_backup_execution
from executions.tasks import enqueue_backups
from jobs.admin import BackupJobAdmin
from jobs.models import BackupJob


class BackupChunkInline(ReadOnlyMixin, TabularInline[BackupChunk, BackupExecution]):
    model = BackupChunk
    fields = ["chunk_number", "file_path", "size", "checksum", "created_at"]
    readonly_fields = ["chunk_number", "file_path", "size", "checksum", "created_at"]
    ordering = ["chunk_number"]
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj: BackupChunk) -> str:
        return filesizeformat(obj.size_bytes)


@admin.register(BackupExecution)
class BackupExecutionAdmin(ReadOnlyMixin, ModelAdmin[BackupExecution]):
    list_display = [
        "created_at",
        "job",
        "kind",
        "status_badge",
        "trigger",
        "backup_type",
        "duration_seconds",
        "size",
        "datasource",
        "storage_location",
    ]
    list_filter = ["status", "kind", "trigger", "backup_type", "storage_location"]
    list_select_related = ["job", "datasource", "storage_location"]
    search_fields = ["=id", "job__name", "datasource__name", "backup_path"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # a big table: skip the second COUNT(*)
    inlines = [BackupChunkInline]
    fieldsets = [
        (None, {"fields": ["id", "kind", "trigger", "status", "job", "source_execution"]}),
        ("Where", {"fields": ["datasource", "storage_location", "backup_path"]}),
        (
            "Timing",
            {
                "fields": [
                    "created_at",
                    "scheduled_for",
                    "started_at",
                    "finished_at",
                    "duration_seconds",
                    "heartbeat_at",
                    "worker",
                    "attempt",
                ]
            },
        ),
        (
            "Result",
            {
                "fields": [
                    "backup_type",
                    "size_bytes",
                    "compressed_size_bytes",
                    "files_count",
                    "error_message",
                    "error_stack",
                    "progress",
                    "metadata",
                ],
                "description": "Written by the worker that ran the execution.",
            },
        ),
    ]
    readonly_fields = [str(name) for _, section in fieldsets for name in section["fields"]]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: BackupExecution) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj: BackupExecution) -> str:
        return filesizeformat(obj.size_bytes) if obj.size_bytes is not None else "—"


@admin.register(BackupChunk)
class BackupChunkAdmin(ReadOnlyMixin, ModelAdmin[BackupChunk]):
    list_display = ["execution", "chunk_number", "file_path", "size", "checksum", "created_at"]
    list_select_related = ["execution"]
    search_fields = ["file_path", "checksum", "=execution__id"]
    ordering = ["-created_at", "chunk_number"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [
        "execution",
        "chunk_number",
        "file_path",
        "size_bytes",
        "checksum",
        "created_at",
    ]

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj: BackupChunk) -> str:
        return filesizeformat(obj.size_bytes)


@admin.register(BackupJob)
class JobAdmin(RetentionPreviewMixin, BackupJobAdmin):
    """Backup jobs, with the actions that create executions."""

    actions = ["run_now", *BackupJobAdmin.actions]

    @admin.action(description="Back up the selected jobs now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[BackupJob]) -> None:
        """Queue a manual run of each job, ahead of scheduled ones; workers pick them up."""
        executions = [
            create_backup_execution(job, BackupExecution.Trigger.MANUAL)
            for job in queryset.select_related("datasource", "storage_location")
        ]
        enqueue_backups(executions)
        self.message_user(request, f"Queued {len(executions)} backup(s).")
