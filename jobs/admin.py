"""Admin of backup jobs: fields, filters, enable and disable."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core import admin_forms  # noqa: F401  (makes ModelAdmin[...] work at runtime)
from core.admin_base import ModelAdmin
from jobs.models import BackupJob


class BackupJobAdmin(ModelAdmin[BackupJob]):
    """The job's fields and its own actions. Registered by ``executions.admin``, which adds
    the actions that create executions (``jobs`` never imports ``executions``)."""

    list_display = [
        "name",
        "datasource",
        "storage_location",
        "schedule_cron",
        "schedule_timezone",
        "enabled",
        "next_execution_at",
        "last_execution_at",
    ]
    list_filter = ["enabled", "datasource__type", "storage_location", "schedule_timezone"]
    list_select_related = ["datasource", "storage_location"]
    search_fields = ["name", "datasource__name", "storage_location__name"]
    ordering = ["name"]
    autocomplete_fields = ["datasource", "storage_location"]
    readonly_fields = [
        "next_execution_at",
        "last_execution_at",
        "failure_streak",
        "stale_since",
        "created_at",
        "updated_at",
    ]
    actions = ["enable", "disable"]
    fieldsets = [
        (None, {"fields": ["name", "enabled"]}),
        (
            "What and where",
            {
                "fields": ["datasource", "storage_location"],
                "description": "The datasource that is backed up and the storage location the "
                "backup is written to.",
            },
        ),
        (
            "Schedule",
            {
                "fields": ["schedule_cron", "schedule_timezone"],
                "description": "A five-field cron expression (minute hour day month weekday), "
                "read in the IANA time zone given, e.g. <code>0 3 * * *</code> in "
                "<code>Europe/Berlin</code> runs at 03:00 Berlin time.",
            },
        ),
        (
            "Retention and options",
            {
                "fields": ["retention_policy", "backup_options"],
                "description": "JSON objects. Retention: keep_daily, keep_weekly, keep_monthly, "
                "auto_delete. Options: compression (gzip, zstd, lz4, none), compression_level, "
                "compression_threads, parallel_jobs, include_tables, exclude_tables, "
                "max_file_size_mb. Keys left out take their defaults; unknown keys are errors.",
            },
        ),
        (
            "Alerts",
            {
                "fields": ["stale_after_minutes", "failure_streak", "stale_since"],
                "description": "The job is stale (backup_stale) when no backup has completed "
                "for stale_after_minutes, or, left empty, twice the interval of its schedule. "
                "The failure streak and stale_since are kept by the alerts; the next completed "
                "backup resets both.",
            },
        ),
        (
            "History",
            {
                "fields": ["next_execution_at", "last_execution_at", "created_at", "updated_at"],
                "description": "Kept by the scheduler.",
            },
        ),
    ]

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
