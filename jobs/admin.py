"""Admin of backup jobs: the typed job form, schedule and retention previews, enable/disable."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core import admin_forms  # noqa: F401  (makes ModelAdmin[...] work at runtime)
from core.admin_base import ModelAdmin
from core.admin_delete import ProtectedDeleteMixin
from core.display import zoned_time
from datasources.models import Datasource
from jobs.admin_forms import (
    OPTION_KEYS,
    OPTION_PREFIX,
    RETENTION_KEYS,
    RETENTION_PREFIX,
    BackupJobForm,
    CronInput,
    options_for,
    schedule_preview,
)
from jobs.admin_retention import policy_from_form
from jobs.models import BackupJob
from jobs.retention import RetentionPolicy

RETENTION_HELP = (
    "Grandfather-father-son by calendar periods in the job's time zone: a day, week or month "
    "without a backup uses up its slot. The newest backup is always kept. See docs/RETENTION.md."
)
OPTIONS_HELP = (
    "Only the options that apply to the datasource's type are shown (the common ones until a "
    "datasource is chosen); they follow the datasource as it is changed."
)


class BackupJobAdmin(ProtectedDeleteMixin, ModelAdmin[BackupJob]):
    """The job's fields and its own actions. Registered by ``executions.admin``, which adds
    the actions that create executions and the retention preview (``jobs`` never imports
    ``executions``)."""

    form = BackupJobForm
    list_display = [
        "name",
        "datasource",
        "storage_location",
        "schedule_cron",
        "schedule_timezone",
        "enabled",
        "next_execution",
        "last_execution",
    ]
    list_filter = ["enabled", "datasource__type", "storage_location", "schedule_timezone"]
    list_select_related = ["datasource", "storage_location"]
    search_fields = ["name", "datasource__name", "storage_location__name"]
    ordering = ["name"]
    autocomplete_fields = ["datasource", "storage_location"]
    readonly_fields = [
        "next_execution",
        "last_execution",
        "failure_streak",
        "stale_since_display",
        "created_display",
        "updated_display",
        "retention_preview",
        "recoverability",
    ]
    actions = ["enable", "disable"]

    class Media:
        js = ["jobs/job_form.js"]
        css = {"all": ["jobs/job_form.css"]}

    # --- the form ---------------------------------------------------------------------------

    def datasource_type_for(self, request: HttpRequest, obj: BackupJob | None) -> str | None:
        """The type of the datasource the form is for: the one posted, else the job's, else the
        one preselected with ``?datasource=``; None while none is chosen."""
        chosen = request.POST.get("datasource") or (
            None if obj is not None else request.GET.get("datasource")
        )
        if chosen:
            try:
                found = Datasource.objects.filter(pk=chosen).values_list("type", flat=True).first()
            except Exception:  # a malformed id is the form's error to report, not ours
                found = None
            if found:
                return str(found)
        if obj is not None:
            return str(obj.datasource.type)
        return None

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = type(
            "BackupJobForm",
            (BackupJobForm,),
            {"datasource_type": self.datasource_type_for(request, obj), "__module__": __name__},
        )
        kwargs["form"] = form_class
        form = super().get_form(request, obj, change=change, **kwargs)
        datasource = form.base_fields.get("datasource")  # absent when the page is view-only
        if datasource is not None:
            # The autocomplete select sits inside the admin's related-object wrapper.
            select: Any = getattr(datasource.widget, "widget", datasource.widget)
            select.attrs["data-options-url"] = reverse("admin:jobs_backupjob_options_for")
        cron = form.base_fields.get("schedule_cron")  # absent when the page is view-only
        widget = cron.widget if cron is not None else None
        if isinstance(widget, CronInput):
            widget.preview_url = reverse("admin:jobs_backupjob_schedule_preview")
        return form

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        editable = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        # An editable page carries every option, those that do not apply hidden, so that they
        # can follow the datasource select; a read-only page shows only those that apply.
        keys = OPTION_KEYS if editable else options_for(self.datasource_type_for(request, obj))
        options = [OPTION_PREFIX + key for key in keys]
        retention = [RETENTION_PREFIX + key for key in RETENTION_KEYS]
        if obj is not None:
            retention.append("retention_preview")
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "enabled"]}),
            (
                "What and where",
                {
                    "fields": ["datasource", "storage_location"],
                    "description": "The datasource that is backed up and the storage location "
                    "the backup is written to.",
                },
            ),
            (
                "Schedule",
                {
                    "fields": ["schedule_cron", "schedule_timezone"],
                    "description": "A five-field cron expression (minute hour day month "
                    "weekday), read in the time zone chosen: <code>0 3 * * *</code> in "
                    "<code>Europe/Berlin</code> runs at 03:00 Berlin time.",
                },
            ),
            ("Retention", {"fields": retention, "description": RETENTION_HELP}),
            ("Backup options", {"fields": options, "description": OPTIONS_HELP}),
            (
                "Alerts",
                {
                    "fields": ["stale_after_minutes", "failure_streak", "stale_since_display"],
                    "description": "The job is stale (backup_stale) when no backup has "
                    "completed for stale_after_minutes, or, left empty, twice the interval of "
                    "its schedule. The failure streak and stale_since are kept by the alerts; "
                    "the next completed backup resets both.",
                },
            ),
            (
                "Recoverability",
                {
                    "fields": [
                        "rpo_target_minutes",
                        "rto_target_minutes",
                        "restore_test_every_days",
                        *(["recoverability"] if obj is not None else []),
                    ],
                    "description": "RPO is what a restore now would lose: the time since the "
                    "newest completed backup (and since the newest verified one). RTO is how "
                    "long the last verification took to restore. A missed target raises "
                    "rpo_target_missed or rto_target_missed; a newest backup left unverified "
                    "past the restore-test window raises verification_overdue. See "
                    "docs/OBSERVABILITY.md.",
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "History",
                    {
                        "fields": [
                            "next_execution",
                            "last_execution",
                            "created_display",
                            "updated_display",
                        ],
                        "description": "Kept by the scheduler. Times in the job's time zone; "
                        "hover for UTC.",
                    },
                )
            )
        return fieldsets

    # --- times in the job's zone ------------------------------------------------------------

    @admin.display(description="Next execution at", ordering="next_execution_at")
    def next_execution(self, obj: BackupJob) -> SafeString:
        return zoned_time(obj.next_execution_at, obj.schedule_timezone)

    @admin.display(description="Last execution at", ordering="last_execution_at")
    def last_execution(self, obj: BackupJob) -> SafeString:
        return zoned_time(obj.last_execution_at, obj.schedule_timezone)

    @admin.display(description="Stale since")
    def stale_since_display(self, obj: BackupJob) -> SafeString:
        return zoned_time(obj.stale_since, obj.schedule_timezone)

    @admin.display(description="Created at")
    def created_display(self, obj: BackupJob) -> SafeString:
        return zoned_time(obj.created_at, obj.schedule_timezone)

    @admin.display(description="Updated at")
    def updated_display(self, obj: BackupJob) -> SafeString:
        return zoned_time(obj.updated_at, obj.schedule_timezone)

    # --- recoverability ----------------------------------------------------------------------

    def describe_recoverability(self, job: BackupJob) -> SafeString:
        """``job``'s RPO and RTO as of now. The executions app, which computes them,
        overrides this."""
        return format_html("{}", "Not available.")

    @admin.display(description="Now")
    def recoverability(self, obj: BackupJob) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "Shown once the job is saved.")
        return self.describe_recoverability(obj)

    # --- retention preview --------------------------------------------------------------------

    def preview_retention(self, job: BackupJob, policy: RetentionPolicy) -> SafeString:
        """What ``policy`` would keep of ``job``'s backups. The executions app, which knows
        the backups, overrides this."""
        return format_html("{}", "The preview is not available.")

    @admin.display(description="What this policy keeps")
    def retention_preview(self, obj: BackupJob) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "Shown once the job is saved.")
        # The theme asks a read-only field for its contents more than once per page; the
        # preview reads every completed backup of the job, so it is worked out once per object.
        cached: SafeString | None = getattr(obj, "_retention_preview_html", None)
        if cached is None:
            policy = RetentionPolicy.from_json(obj.retention_policy or {})
            cached = format_html(
                '<div id="retention-preview" data-url="{}">{}</div>',
                reverse("admin:jobs_backupjob_retention_preview", args=[obj.pk]),
                self.preview_retention(obj, policy),
            )
            obj._retention_preview_html = cached  # type: ignore[attr-defined]
        return cached

    # --- live previews (staff-only JSON: admin_view requires a staff login) --------------------

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "schedule-preview/",
                self.admin_site.admin_view(self.schedule_preview_view),
                name="jobs_backupjob_schedule_preview",
            ),
            path(
                "options-for/",
                self.admin_site.admin_view(self.options_for_view),
                name="jobs_backupjob_options_for",
            ),
            path(
                "<uuid:pk>/retention-preview/",
                self.admin_site.admin_view(self.retention_preview_view),
                name="jobs_backupjob_retention_preview",
            ),
        ]
        return own + super().get_urls()

    def schedule_preview_view(self, request: HttpRequest) -> JsonResponse:
        """``?cron=&tz=`` → the human reading and the next five runs, as the field shows."""
        if not self.has_view_or_change_permission(request):
            return JsonResponse({"error": "Not allowed."}, status=403)
        return JsonResponse(
            schedule_preview(request.GET.get("cron", ""), request.GET.get("tz", "UTC") or "UTC")
        )

    def options_for_view(self, request: HttpRequest) -> JsonResponse:
        """``?datasource=<id>`` → the option fields that apply to that datasource's type; the
        common ones when none is given (as the form shows them before one is chosen)."""
        if not (self.has_add_permission(request) or self.has_view_or_change_permission(request)):
            return JsonResponse({"error": "Not allowed."}, status=403)
        chosen = request.GET.get("datasource", "").strip()
        kind: str | None = None
        if chosen:
            try:
                uuid.UUID(chosen)
            except ValueError:
                return JsonResponse({"error": f"Not a datasource id: {chosen!r}."}, status=400)
            found = Datasource.objects.filter(pk=chosen).values_list("type", flat=True).first()
            if found is None:
                return JsonResponse({"error": f"No datasource with id {chosen}."}, status=404)
            kind = str(found)
        return JsonResponse({"options": [OPTION_PREFIX + key for key in options_for(kind)]})

    def retention_preview_view(self, request: HttpRequest, pk: str) -> JsonResponse:
        """``?keep_daily=&keep_weekly=&keep_monthly=&auto_delete=`` → the preview table of the
        job's backups under that policy (nothing is saved)."""
        job = get_object_or_404(BackupJob, pk=pk)
        if not self.has_view_or_change_permission(request, job):
            return JsonResponse({"error": "Not allowed."}, status=403)
        policy = RetentionPolicy.from_json(
            policy_from_form(request.GET, job.retention_policy or {})
        )
        return JsonResponse({"html": str(self.preview_retention(job, policy))})

    # --- delete ------------------------------------------------------------------------------

    def protected_advice(self, request: HttpRequest, objs: Any) -> list[SafeString]:
        executions = reverse("admin:executions_backupexecution_changelist")
        jobs = list(objs)
        query = f"?job__id__exact={jobs[0].pk}" if len(jobs) == 1 else ""
        return [
            format_html(
                "{}",
                "To stop a job but keep its backups restorable, disable it instead: the "
                "“Disable the selected jobs” action in the job list, or untick Enabled on its "
                "page.",
            ),
            format_html(
                "To remove a job for good, first delete its backups from the "
                '<a class="underline" href="{}{}">backup executions list</a> (or let its '
                "retention policy remove them), then "
                "delete the job.",
                executions,
                query,
            ),
        ]

    # --- actions --------------------------------------------------------------------------------

    @admin.action(description="Enable the selected jobs")
    def enable(self, request: HttpRequest, queryset: QuerySet[BackupJob]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected jobs")
    def disable(self, request: HttpRequest, queryset: QuerySet[BackupJob]) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(
        self, request: HttpRequest, queryset: QuerySet[BackupJob], enabled: bool
    ) -> None:
        # Saved one by one: saving recomputes (or clears) the next run, which update() skips.
        jobs = list(queryset)
        for job in jobs:
            job.enabled = enabled
            job.save(update_fields=["enabled", "next_execution_at", "updated_at"])
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {len(jobs)} job(s).")
