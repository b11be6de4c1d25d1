"""Admin of backup jobs with what needs executions: run now, the retention preview and the
recoverability."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin_actions import ObjectAction, ObjectActionsMixin
from executions.admin.panels import execution_url
from executions.models import BackupExecution
from executions.recoverability_admin import RecoverabilityMixin
from executions.retention_admin import RetentionPreviewMixin
from executions.services import create_backup_execution
from executions.tasks import enqueue_backups
from jobs.admin import BackupJobAdmin
from jobs.models import BackupJob


def _links(executions: list[BackupExecution]) -> SafeString:
    return format_html_join(
        ", ", "<a href='{}'>{}</a>", ((execution_url(e.pk), e.job.name) for e in executions)
    )


class JobAdmin(RetentionPreviewMixin, RecoverabilityMixin, ObjectActionsMixin, BackupJobAdmin):
    """Backup jobs, with the actions that create executions and the job's recoverability."""

    actions = ["run_now", *BackupJobAdmin.actions]

    def get_urls(self) -> list[URLPattern]:
        run = self.admin_site.admin_view(self.run_now_view)
        return [
            path("<str:object_id>/run-now/", run, name="jobs_backupjob_run_now"),
            *super().get_urls(),
        ]

    def object_actions(self, request: HttpRequest, obj: BackupJob) -> list[ObjectAction]:
        if not self.has_change_permission(request, obj):
            return []
        url = reverse("admin:jobs_backupjob_run_now", args=[obj.pk])
        return [ObjectAction("action-run-now", "Run now", url, variant="primary")]

    def _queue(self, request: HttpRequest, jobs: QuerySet[BackupJob]) -> None:
        """Queue a manual run of each job, ahead of scheduled ones, and say where they are."""
        executions = [
            create_backup_execution(job, BackupExecution.Trigger.MANUAL)
            for job in jobs.select_related("datasource", "storage_location")
        ]
        enqueue_backups(executions)
        self.message_user(
            request,
            format_html("Queued {} backup(s): {}.", len(executions), _links(executions)),
            messages.SUCCESS,
        )

    @admin.action(description="Back up the selected jobs now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[BackupJob]) -> None:
        self._queue(request, queryset)

    def run_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return _run_now(self, request, object_id)


def _run_now(model_admin: JobAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    job = model_admin.get_object(request, object_id)
    if job is None:
        raise Http404("No such job.")
    if not model_admin.has_change_permission(request, job):
        raise PermissionDenied
    model_admin._queue(request, BackupJob.objects.filter(pk=job.pk))
    return HttpResponseRedirect(reverse("admin:jobs_backupjob_change", args=[job.pk]))
