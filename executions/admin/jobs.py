"""Admin of backup jobs with what needs executions: run now, and the retention preview."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from typing import Any

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
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin_actions import ObjectAction, ObjectActionsMixin
from core.display import human_size, zoned_time
from executions.admin.panels import execution_url
from executions.cleanup import retention_preview
from executions.models import BackupExecution
from executions.services import create_backup_execution
from executions.tasks import enqueue_backups
from jobs.admin import BackupJobAdmin
from jobs.models import BackupJob
from jobs.retention import RetentionPolicy

_REASON = re.compile(r"^(daily|weekly|monthly) (\S+)$")


def _slot(reason: str, policy: RetentionPolicy, today: date) -> str:
    """``daily 2026-11-18`` → ``daily 3 of 7 (2026-11-18)``: which of the policy's periods
    the backup fills, counting the current one as 1."""
    match = _REASON.match(reason)
    if not match:
        return reason
    rule, key = match.groups()
    try:
        if rule == "daily":
            position = (today - date.fromisoformat(key)).days + 1
            count = policy.keep_daily
        elif rule == "weekly":
            year, week = key.split("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
            this_monday = date.fromisocalendar(*today.isocalendar()[:2], 1)
            position = (this_monday - monday).days // 7 + 1
            count = policy.keep_weekly
        else:
            year, month = (int(part) for part in key.split("-"))
            position = (today.year - year) * 12 + today.month - month + 1
            count = policy.keep_monthly
    except ValueError:
        return reason
    return f"{rule} {position} of {count} ({key})"


def _links(executions: list[BackupExecution]) -> SafeString:
    return format_html_join(
        ", ", "<a href='{}'>{}</a>", ((execution_url(e.pk), e.job.name) for e in executions)
    )


class JobAdmin(ObjectActionsMixin, BackupJobAdmin):
    """Backup jobs, with the actions that create executions."""

    actions = ["run_now", *BackupJobAdmin.actions]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "retention_panel"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(
                (
                    "Retention preview",
                    {
                        "fields": ["retention_panel"],
                        "description": "What the retention policy as saved keeps (and why) "
                        "and would delete if cleanup ran now. Nothing is deleted here.",
                    },
                )
            )
        return fieldsets

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

    @admin.display(description="Retention")
    def retention_panel(self, obj: BackupJob) -> SafeString:
        preview = retention_preview(obj)
        policy = RetentionPolicy.from_json(obj.retention_policy)
        zone = obj.schedule_timezone
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(zone)).date()
        kept = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>kept because: {}</td></tr>",
            (
                (
                    execution_url(k.execution.pk),
                    zoned_time(k.execution.finished_at, zone),
                    human_size(k.execution.compressed_size_bytes),
                    ", ".join(_slot(reason, policy, today) for reason in k.reasons),
                )
                for k in preview.keep
            ),
        )
        deleted = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>would be deleted</td></tr>",
            (
                (
                    execution_url(e.pk),
                    zoned_time(e.finished_at, zone),
                    human_size(e.compressed_size_bytes),
                )
                for e in preview.delete
            ),
        )
        auto = "on" if policy.auto_delete else "off: cleanup deletes nothing for this job"
        return format_html(
            "<div id='retention-preview'><p>{} kept, {} would be deleted, {} freed "
            "(auto delete {}).</p><table class='text-sm'>{}{}</table></div>",
            len(preview.keep),
            len(preview.delete),
            human_size(preview.bytes_to_free),
            auto,
            kept,
            deleted,
        )


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
