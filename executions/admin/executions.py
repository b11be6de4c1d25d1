"""Admin of executions and their chunks: an append-only record, read-only here, with the
operator's actions on its page (restore, verify, download, cancel, delete) and its live
progress."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from unfold.contrib.filters.admin import RangeDateTimeFilter

from core.admin_actions import ObjectAction, ObjectActionsMixin
from core.admin_base import ModelAdmin, TabularInline
from core.admin_forms import ReadOnlyMixin, status_badge
from core.display import human_size, zoned_time
from core.paginator import CappedPaginator
from executions.admin import operations, panels
from executions.admin.live import duration_text, live_progress, progress_html, run_seconds
from executions.admin.restore_wizard import restore_view
from executions.models import BackupChunk, BackupExecution

ROUTE = "executions_backupexecution"


def _zone(execution: BackupExecution) -> str:
    return execution.job.schedule_timezone or "UTC"


def _downloadable(execution: BackupExecution) -> bool:
    return (
        execution.kind == BackupExecution.Kind.BACKUP
        and execution.status == BackupExecution.Status.COMPLETED
        and bool(execution.backup_path)
    )


class BackupChunkInline(ReadOnlyMixin, TabularInline[BackupChunk, BackupExecution]):
    model = BackupChunk
    fields = ["chunk_number", "file_path", "size", "checksum", "created_at", "download"]
    readonly_fields = ["chunk_number", "file_path", "size", "checksum", "created_at", "download"]
    ordering = ["chunk_number"]
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj: BackupChunk) -> str:
        return human_size(obj.size_bytes)

    @admin.display(description="Download")
    def download(self, obj: BackupChunk) -> SafeString:
        if not _downloadable(obj.execution):
            return format_html("{}", "—")
        url = reverse(f"admin:{ROUTE}_download_part", args=[obj.execution_id, obj.chunk_number])
        return format_html(
            "<a href='{}' id='download-chunk-{}'>part {}</a>",
            url,
            obj.chunk_number,
            obj.chunk_number,
        )


@admin.register(BackupExecution)
class BackupExecutionAdmin(ObjectActionsMixin, ReadOnlyMixin, ModelAdmin[BackupExecution]):
    list_display = [
        "created",
        "job",
        "kind",
        "status_badge",
        "trigger",
        "backup_type",
        "duration",
        "size",
        "datasource",
        "storage_location",
    ]
    list_filter = [
        "status",
        "kind",
        "trigger",
        "backup_type",
        "job",
        "datasource",
        "storage_location",
        ("created_at", RangeDateTimeFilter),
    ]
    # The date range is a filter rather than a date hierarchy: the hierarchy's year links
    # cost a scan of the whole table on every page.
    list_filter_submit = True
    list_select_related = ["job", "datasource", "storage_location"]
    # The theme's rendering is most of a list's time; 50 rows keep a page short.
    list_per_page = 50
    paginator = CappedPaginator
    search_fields = ["=id", "job__name", "datasource__name", "backup_path"]
    ordering = ["-created_at"]
    show_full_result_count = False  # a big table: skip the second COUNT(*)
    inlines = [BackupChunkInline]
    change_form_outer_after_template = "executions/admin/live.html"
    fieldsets = [
        (
            None,
            {"fields": ["execution_status", "kind", "trigger", "job", "source_link", "id"]},
        ),
        ("Progress", {"fields": ["progress_panel"]}),
        ("Where", {"fields": ["datasource", "storage_location", "backup_path"]}),
        (
            "Timing",
            {
                "fields": [
                    "created",
                    "scheduled",
                    "started",
                    "finished",
                    "duration",
                    "heartbeat",
                    "worker",
                    "attempt",
                ]
            },
        ),
        (
            "Result",
            {
                "fields": ["backup_type", "size", "stored_size", "files_count", "checksum"],
                "description": "Written by the worker that ran the execution.",
            },
        ),
        ("Error", {"fields": ["error_panel"]}),
        (
            "Log",
            {
                "fields": ["log_panel"],
                "description": "The run's newest log lines, INFO and above, secrets masked.",
            },
        ),
        ("Manifest", {"fields": ["manifest_panel"]}),
        ("Verification", {"fields": ["verification_panel"]}),
        ("Restores of this backup", {"fields": ["restore_history"]}),
        ("Raw record", {"fields": ["metadata", "progress"], "classes": ["collapse"]}),
    ]
    readonly_fields = [str(name) for _, section in fieldsets for name in section["fields"]]

    # --- permissions: read-only, but a final execution may be deleted -------------------

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only one at a time, through the page that deletes the stored files too: the bulk
        # "delete selected" would drop records and leave their files behind.
        return obj is not None and obj.is_final and operations.may(request, "delete")

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return operations.delete(self, request, object_id)

    # --- URLs of the actions ---------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any, name: str, route: str) -> URLPattern:
            def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                response: HttpResponseBase = function(self, request, *args, **kwargs)
                return response

            return path(route, self.admin_site.admin_view(wrapped), name=f"{ROUTE}_{name}")

        # ``str``, not the admin's ``path``: a path id would swallow ``…/download`` and send
        # ``…/download/manifest/`` to the manifest view.
        own = [
            view(restore_view, "restore", "<str:object_id>/restore/"),
            view(operations.progress_json, "progress", "<str:object_id>/progress/"),
            view(operations.manifest, "manifest", "<str:object_id>/manifest/"),
            view(operations.cancel, "cancel", "<str:object_id>/cancel/"),
            view(operations.verify, "verify", "<str:object_id>/verify/"),
            view(operations.download, "download", "<str:object_id>/download/"),
            view(operations.download, "download_part", "<str:object_id>/download/<part>/"),
        ]
        return own + super().get_urls()

    def object_actions(self, request: HttpRequest, obj: BackupExecution) -> list[ObjectAction]:
        def url(name: str, *args: Any) -> str:
            return reverse(f"admin:{ROUTE}_{name}", args=[obj.pk, *args])

        actions: list[ObjectAction] = []
        completed_backup = _downloadable(obj)
        if completed_backup and operations.may(request, "add"):
            actions.append(
                ObjectAction("action-restore", "Restore…", url("restore"), "get", "primary")
            )
        if completed_backup and operations.may(request, "change"):
            actions.append(ObjectAction("action-verify", "Verify now", url("verify")))
        if completed_backup:
            actions.append(ObjectAction("action-download", "Download", url("download"), "get"))
            if obj.chunks.count() > 1:
                actions.append(
                    ObjectAction(
                        "action-download-manifest",
                        "Download manifest.json",
                        url("download_part", "manifest"),
                        "get",
                    )
                )
        if not obj.is_final and operations.may(request, "change"):
            actions.append(
                ObjectAction(
                    "action-cancel",
                    f"Cancel this {obj.kind}",
                    url("cancel"),
                    confirm=f"Cancel this {obj.kind}? A running one stops at its next step.",
                )
            )
        if self.has_delete_permission(request, obj):
            actions.append(
                ObjectAction(
                    "action-delete",
                    "Delete…",
                    reverse(f"admin:{ROUTE}_delete", args=[obj.pk]),
                    "get",
                    "danger",
                )
            )
        return actions

    # --- what the page shows ---------------------------------------------------------------

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: BackupExecution) -> SafeString:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="Status")
    def execution_status(self, obj: BackupExecution) -> SafeString:
        return format_html(
            "<span id='execution-status' data-status='{}'>{}</span>",
            obj.status,
            status_badge(obj.status, obj.get_status_display()),
        )

    @admin.display(description="Live progress")
    def progress_panel(self, obj: BackupExecution) -> SafeString:
        return format_html(
            "<div id='execution-progress' data-url='{}' data-final='{}'>{}</div>",
            reverse(f"admin:{ROUTE}_progress", args=[obj.pk]),
            "true" if obj.is_final else "false",
            progress_html(live_progress(obj)),
        )

    @admin.display(description="Restored from")
    def source_link(self, obj: BackupExecution) -> SafeString:
        if obj.source_execution_id is None:
            return format_html("{}", "—")
        return format_html(
            "<a href='{}'>backup {}</a>",
            panels.execution_url(obj.source_execution_id),
            obj.source_execution_id,
        )

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: BackupExecution) -> SafeString:
        return zoned_time(obj.created_at, _zone(obj))

    @admin.display(description="Scheduled for")
    def scheduled(self, obj: BackupExecution) -> SafeString:
        return zoned_time(obj.scheduled_for, _zone(obj))

    @admin.display(description="Started")
    def started(self, obj: BackupExecution) -> SafeString:
        return zoned_time(obj.started_at, _zone(obj))

    @admin.display(description="Finished")
    def finished(self, obj: BackupExecution) -> SafeString:
        return zoned_time(obj.finished_at, _zone(obj))

    @admin.display(description="Last heartbeat")
    def heartbeat(self, obj: BackupExecution) -> SafeString:
        return zoned_time(obj.heartbeat_at, _zone(obj))

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration(self, obj: BackupExecution) -> str:
        return duration_text(run_seconds(obj))

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj: BackupExecution) -> str:
        return human_size(obj.size_bytes)

    @admin.display(description="Stored size", ordering="compressed_size_bytes")
    def stored_size(self, obj: BackupExecution) -> str:
        return human_size(obj.compressed_size_bytes)

    @admin.display(description="SHA-256 of the artifact")
    def checksum(self, obj: BackupExecution) -> str:
        metadata = obj.metadata if isinstance(obj.metadata, dict) else {}
        return str(metadata.get("checksum") or "—")

    @admin.display(description="Error and log")
    def error_panel(self, obj: BackupExecution) -> SafeString:
        return panels.error_panel(obj)

    @admin.display(description="Log tail")
    def log_panel(self, obj: BackupExecution) -> SafeString:
        return panels.log_panel(obj)

    @admin.display(description="manifest.json")
    def manifest_panel(self, obj: BackupExecution) -> SafeString:
        # Read from storage after the page has loaded: a slow or unreachable location must
        # not hold up the rest of the page.
        if obj.kind != BackupExecution.Kind.BACKUP or not obj.backup_path:
            return format_html("{}", "—")
        return format_html(
            "<div id='execution-manifest' data-url='{}'>Reading manifest.json from storage…</div>",
            reverse(f"admin:{ROUTE}_manifest", args=[obj.pk]),
        )

    @admin.display(description="Last verification")
    def verification_panel(self, obj: BackupExecution) -> SafeString:
        return panels.verification_panel(obj)

    @admin.display(description="Restores")
    def restore_history(self, obj: BackupExecution) -> SafeString:
        return panels.restore_history(obj, _zone(obj))


@admin.register(BackupChunk)
class BackupChunkAdmin(ReadOnlyMixin, ModelAdmin[BackupChunk]):
    list_display = ["execution", "chunk_number", "file_path", "size", "checksum", "created"]
    list_select_related = ["execution"]
    search_fields = ["file_path", "checksum", "=execution__id"]
    ordering = ["-created_at", "chunk_number"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = CappedPaginator
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
        return human_size(obj.size_bytes)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: BackupChunk) -> SafeString:
        return zoned_time(obj.created_at)
