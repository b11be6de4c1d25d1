"""What an operator does to one execution from its page: cancel, verify, download, delete,
and the live progress the page polls.

Each view calls the service the API calls (``BackupExecution.cancel``, ``verification``,
``executions.downloads``, ``executions.services.delete_execution``) and reports its outcome
as an admin message. The execution admin itself is read-only; these views check the
model's own permissions (``change`` to cancel or verify, ``delete`` to delete).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.display import human_size, zoned_time
from core.queues import PRIORITY_MANUAL
from executions import verification
from executions.admin.live import live_progress
from executions.admin.panels import execution_url, manifest_panel
from executions.downloads import (
    NothingToDownload,
    artifact_response,
    chunk_response,
    downloadable_chunks,
    manifest_response,
)
from executions.models import BackupExecution, IllegalTransition
from executions.services import DeleteRefused, delete_execution, newest_completed_backup
from executions.tasks import enqueue_verification
from storage.adapters.base import StorageError

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    ExecutionAdmin = ModelAdmin[BackupExecution]
else:
    ExecutionAdmin = Any


def may(request: HttpRequest, action: str) -> bool:
    """Whether the user holds the model permission ``action`` (add, change, delete, view)."""
    return bool(request.user.has_perm(f"executions.{action}_backupexecution"))


def viewable(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> BackupExecution:
    """The execution, when the user may see it; 404 or 403 otherwise."""
    execution = admin.get_object(request, object_id)
    if execution is None:
        raise Http404("No such execution.")
    if not admin.has_view_permission(request, execution):
        raise PermissionDenied
    return execution


def _back(execution: BackupExecution) -> HttpResponseRedirect:
    return HttpResponseRedirect(execution_url(execution.pk))


def progress_json(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> JsonResponse:
    """The execution's live state, polled by its page while it is queued or running."""
    execution = viewable(admin, request, object_id)
    return JsonResponse(live_progress(execution).as_json())


def manifest(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """The stored ``manifest.json`` as a table: an HTML fragment the execution page loads."""
    execution = viewable(admin, request, object_id)
    return HttpResponse(manifest_panel(execution))


def cancel(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    execution = viewable(admin, request, object_id)
    if not may(request, "change"):
        raise PermissionDenied
    try:
        execution.cancel()
    except IllegalTransition:
        admin.message_user(
            request,
            f"The {execution.kind} is {execution.get_status_display().lower()}; only a queued "
            "or running execution can be cancelled.",
            messages.ERROR,
        )
    else:
        admin.message_user(
            request,
            f"Cancelled the {execution.kind}; a running one stops at its next step.",
            messages.SUCCESS,
        )
    return _back(execution)


def verify(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    backup = viewable(admin, request, object_id)
    if not may(request, "change"):
        raise PermissionDenied
    if not verification.can_verify(backup):
        admin.message_user(request, "Only completed backups can be verified.", messages.ERROR)
        return _back(backup)
    enqueue_verification(backup, priority=PRIORITY_MANUAL)
    admin.message_user(
        request,
        "Verification queued: a worker restores the backup into a scratch target and checks "
        "it; the result appears under Verification on this page.",
        messages.SUCCESS,
    )
    return _back(backup)


def download(
    admin: ExecutionAdmin, request: HttpRequest, object_id: str, part: str = ""
) -> HttpResponseBase:
    """The artifact as one stream (``part`` empty), one chunk (its number) or the manifest."""
    execution = viewable(admin, request, object_id)
    try:
        chunks = downloadable_chunks(execution)
    except NothingToDownload as exc:
        admin.message_user(request, str(exc), messages.ERROR)
        return _back(execution)
    if part == "manifest":
        return manifest_response(execution)
    if part:
        if not part.isdigit():
            raise Http404("No such part.")
        chunk = get_object_or_404(execution.chunks, chunk_number=int(part))
        return chunk_response(execution, chunk)
    return artifact_response(execution, chunks)


def delete(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """A page naming what is deleted; on POST the stored files go, then the record.

    The newest completed backup of its job is the one a restore needs first: deleting it
    takes the ``force`` box ticked.
    """
    execution = viewable(admin, request, object_id)
    if not admin.has_delete_permission(request, execution):
        raise PermissionDenied  # also for a queued or running one: cancel it first
    newest = newest_completed_backup(execution.job_id)
    is_newest = newest is not None and newest.pk == execution.pk
    zone = execution.job.schedule_timezone
    error = ""
    if request.method == "POST":
        if is_newest and not request.POST.get("force"):
            error = (
                "This is the newest completed backup of its job; tick “Delete it anyway” to "
                "delete it."
            )
        else:
            return _delete(admin, request, execution)
    opts = admin.model._meta
    chunk_count = execution.chunks.count()
    context = {
        **admin.admin_site.each_context(request),
        "title": f"Delete {execution.kind} of {execution.job.name}?",
        "opts": opts,
        "app_label": opts.app_label,
        "original": execution,
        "execution": execution,
        "is_newest": is_newest,
        "error": error,
        "is_final": execution.is_final,
        "rows": [
            ("Job", execution.job.name),
            ("Kind", execution.get_kind_display()),
            ("Status", execution.get_status_display()),
            ("Date", zoned_time(execution.finished_at or execution.created_at, zone)),
            ("Stored size", human_size(execution.compressed_size_bytes)),
            ("Storage", execution.storage_location.name),
            ("Path", execution.backup_path or "— (no stored files)"),
            ("Chunks", str(chunk_count)),
        ],
        "change_url": execution_url(execution.pk),
    }
    return TemplateResponse(
        request,
        "executions/admin/delete.html",
        context,
        status=400 if error else 200,
    )


def _delete(
    admin: ExecutionAdmin, request: HttpRequest, execution: BackupExecution
) -> HttpResponse:
    what = f"{execution.kind} of {execution.job.name} ({execution.pk})"
    files = " and its stored files" if execution.owns_stored_files else ""
    try:
        delete_execution(execution)
    except DeleteRefused as exc:
        admin.message_user(request, str(exc), messages.ERROR)
        return _back(execution)
    except StorageError as exc:
        admin.message_user(
            request,
            f"The stored backup could not be deleted, so the record is kept: {exc}",
            messages.ERROR,
        )
        return _back(execution)
    changelist = reverse("admin:executions_backupexecution_changelist")
    admin.message_user(
        request,
        format_html("Deleted the {}{}. <a href='{}'>All executions</a>", what, files, changelist),
        messages.SUCCESS,
    )
    return HttpResponseRedirect(changelist)
