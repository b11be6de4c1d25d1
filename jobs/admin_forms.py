"""The backup job form of the admin: no raw JSON.

``BackupJob.retention_policy`` and ``BackupJob.backup_options`` stay JSON in the database; the
form edits them as one typed field per key (``retention_keep_daily``, ``option_compression``,
...) and validates the assembled objects through the one declaration of their structure,
``jobs.schemas``, so an error names the field it belongs to. Only the options the chosen
datasource's engine reads apply (the common ones while no datasource is chosen). Every option
field is in the page so that ``jobs/job_form.js`` can switch them when another datasource is
picked; one that does not apply is disabled and its row hidden (``data-option-applies``), and
a value posted for it is ignored. Stored options that do not apply are kept as they are.

The cron field carries its own preview: the expression read aloud (cron-descriptor) and the
next five runs in the job's time zone, with preset buttons.
"""

from __future__ import annotations

import contextlib
import zoneinfo
from datetime import datetime
from typing import Any, ClassVar

from cron_descriptor import ExpressionDescriptor
from django import forms
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from rest_framework import serializers
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from core.admin_forms import form_field_for
from core.admin_widgets import themed
from core.display import zoned_time
from core.registry import ConfigSchema, UnknownType
from core.validation import drf_to_django_errors
from datasources.engines import ENGINES
from jobs.models import BackupJob, validate_cron
from jobs.schedule import next_run
from jobs.schemas import (
    COMPRESSION_LEVELS,
    COMPRESSIONS,
    BackupOptionsSchema,
    CommonBackupOptions,
    RetentionPolicySchema,
    default_backup_options,
    default_retention_policy,
    engine_options,
)

RETENTION_PREFIX = "retention_"
OPTION_PREFIX = "option_"
RETENTION_KEYS = ["keep_daily", "keep_weekly", "keep_monthly", "auto_delete"]
#: The options every backup reads, shown first (compression) and last (chunks, verification);
#: the datasource's engine options (``Engine.options_schema``) come between them.
_LEADING_OPTIONS = ["compression", "compression_level", "compression_threads"]
_TRAILING_OPTIONS = ["max_file_size_mb", "verify_after_backup", "verification_assertions"]
COMMON_OPTIONS = frozenset(CommonBackupOptions._declared_fields)
#: Every engine's own options, each once, in registry order (as the job's schema holds them).
_ENGINE_OPTION_FIELDS = {
    key: field
    for key, field in BackupOptionsSchema._declared_fields.items()
    if key not in COMMON_OPTIONS
}
#: Every option the form edits, in the order shown.
OPTION_KEYS = [*_LEADING_OPTIONS, *_ENGINE_OPTION_FIELDS, *_TRAILING_OPTIONS]
LIST_OPTIONS = frozenset(
    {"verification_assertions"}
    | {key for key, f in _ENGINE_OPTION_FIELDS.items() if isinstance(f, serializers.ListField)}
)
#: Options whose empty field means "none" (stored as null) rather than "the default".
NULLABLE_OPTIONS = frozenset({"compression_level", "max_file_size_mb"})

CRON_PRESETS = [
    ("hourly", "0 * * * *", "Hourly"),
    ("daily", "0 3 * * *", "Daily 03:00"),
    ("weekly", "0 3 * * 0", "Weekly, Sunday 03:00"),
    ("monthly", "0 3 1 * *", "Monthly, the 1st 03:00"),
]
NEXT_RUNS = 5


def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone, UTC first, the rest alphabetically."""
    zones = sorted(zoneinfo.available_timezones() - {"UTC"})
    return [(name, name) for name in ["UTC", *zones]]


def options_for(datasource_type: str | None) -> list[str]:
    """The option keys that apply to a datasource of ``datasource_type`` (the common ones when
    it is unknown or not chosen yet), in display order."""
    extra: frozenset[str] = frozenset()
    if datasource_type:
        with contextlib.suppress(UnknownType):
            extra = ENGINES.get(datasource_type).backup_options()
    return [key for key in OPTION_KEYS if key in COMMON_OPTIONS or key in extra]


# --- Schedule preview -------------------------------------------------------------------------


def describe_cron(cron: str) -> str:
    """``0 3 * * *`` → ``At 03:00`` (24-hour, as the times shown next to it); an empty string
    for an invalid expression."""
    try:
        validate_cron(cron)
        return str(ExpressionDescriptor(cron, use_24hour_time_format=True).get_description())
    except Exception:  # cron-descriptor raises its own errors for what croniter also refuses
        return ""


def upcoming_runs(cron: str, zone: str, count: int = NEXT_RUNS) -> list[datetime]:
    """The next ``count`` runs of ``cron`` in ``zone`` after now; empty when it is invalid."""
    try:
        validate_cron(cron)
        zoneinfo.ZoneInfo(zone)
    except Exception:
        return []
    runs: list[datetime] = []
    moment = timezone.now()
    try:
        for _ in range(count):
            moment = next_run(cron, zone, moment)
            runs.append(moment)
    except ValueError:
        return runs
    return runs


def schedule_preview(cron: str, zone: str) -> dict[str, Any]:
    """What the cron field shows under itself, as JSON for the live preview."""
    cron = (cron or "").strip()
    description = describe_cron(cron)
    runs = upcoming_runs(cron, zone) if description else []
    error = "" if description else "Not a cron expression of five fields."
    if description and not runs:
        error = "This expression never matches a date."
    return {
        "description": description,
        "next_runs": [str(zoned_time(run, zone)) for run in runs],
        "error": error,
    }


class CronInput(UnfoldAdminTextInputWidget):
    """The cron text input, with preset buttons, the human reading (``#cron-description``) and
    the next five runs (``#cron-next-runs``), kept current by ``jobs/job_form.js``."""

    zone = "UTC"
    preview_url = ""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        field = super().render(name, value, attrs, renderer)
        preview = schedule_preview(str(value or ""), self.zone)
        buttons = format_html_join(
            "",
            '<button type="button" data-cron-preset="{}" data-cron="{}" '
            'class="border border-base-200 rounded-default px-2 py-1 text-xs '
            'hover:bg-base-100 dark:border-base-700 dark:hover:bg-base-800">{}</button>',
            ((key, cron, label) for key, cron, label in CRON_PRESETS),
        )
        runs = format_html_join("", "<li>{}</li>", ((SafeString(r),) for r in preview["next_runs"]))
        return format_html(
            '{}<div class="dg-cron mt-2" data-cron-preview-url="{}">'
            '<div class="flex flex-wrap gap-2" role="group" aria-label="Presets">{}</div>'
            '<p id="cron-description" class="mt-2 font-semibold">{}</p>'
            '<p id="cron-error" class="mt-1 text-red-600">{}</p>'
            '<p class="mt-1 text-xs">Next runs in the job\'s time zone:</p>'
            '<ol id="cron-next-runs" class="list-decimal ml-5 text-sm">{}</ol></div>',
            field,
            self.preview_url,
            buttons,
            preview["description"],
            preview["error"] if value else "",
            runs,
        )


# --- The form ------------------------------------------------------------------------------------


def _int_field(schema_field: serializers.Field, label: str, help_text: str) -> forms.Field:  # type: ignore[type-arg]
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        required=False,
        min_value=getattr(schema_field, "min_value", None),
        max_value=getattr(schema_field, "max_value", None),
        widget=UnfoldAdminIntegerFieldWidget,
    )


def _lines_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
    )


_RETENTION = RetentionPolicySchema().fields
_OPTIONS = BackupOptionsSchema().fields
_LEVELS = ", ".join(f"{name} {low} to {high}" for name, (low, high) in COMPRESSION_LEVELS.items())


class BackupJobForm(forms.ModelForm):  # type: ignore[type-arg]
    """A job's fields, with retention and options as typed fields (see the module docstring).

    ``datasource_type`` (set by the admin per request) selects the options shown.
    """

    datasource_type: ClassVar[str | None] = None

    retention_keep_daily = _int_field(
        _RETENTION["keep_daily"],
        "Keep daily",
        "Keep the newest backup of each of the last N days, today included. 0: no daily rule.",
    )
    retention_keep_weekly = _int_field(
        _RETENTION["keep_weekly"],
        "Keep weekly",
        "Keep the newest backup of each of the last N ISO weeks, this week included.",
    )
    retention_keep_monthly = _int_field(
        _RETENTION["keep_monthly"],
        "Keep monthly",
        "Keep the newest backup of each of the last N calendar months, this month included.",
    )
    retention_auto_delete = forms.BooleanField(
        label="Delete automatically",
        required=False,
        help_text="Delete the backups no rule keeps after each run. Off: the preview below "
        "only shows what would go. The newest backup is always kept.",
        widget=UnfoldBooleanSwitchWidget,
    )
    option_compression = forms.ChoiceField(
        label="Compression",
        choices=[(name, name) for name in COMPRESSIONS],
        help_text="zstd is fast with a good ratio; none for data that is already compressed.",
        widget=UnfoldAdminSelectWidget,
    )
    option_compression_level = _int_field(
        _OPTIONS["compression_level"],
        "Compression level",
        f"Empty: the compressor's default. Ranges: {_LEVELS}.",
    )
    option_compression_threads = _int_field(
        _OPTIONS["compression_threads"],
        "Compression threads",
        str(_OPTIONS["compression_threads"].help_text),
    )
    option_max_file_size_mb = _int_field(
        _OPTIONS["max_file_size_mb"],
        "Split into files of (MB)",
        "Empty: one file. Otherwise the backup is split into chunks of at most this size.",
    )
    option_verify_after_backup = forms.BooleanField(
        label="Verify after backup",
        required=False,
        help_text=str(_OPTIONS["verify_after_backup"].help_text),
        widget=UnfoldBooleanSwitchWidget,
    )
    option_verification_assertions = _lines_field(
        "Verification queries", "One SQL query per line; each must return one truthy value."
    )
    schedule_timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        initial="UTC",
        help_text="The IANA zone the cron expression is read in.",
        widget=UnfoldAdminSelectWidget,
    )

    class Meta:
        model = BackupJob
        # The JSON fields are edited through the typed fields above, never as text.
        fields = [
            "name",
            "enabled",
            "datasource",
            "storage_location",
            "schedule_cron",
            "schedule_timezone",
            "stale_after_minutes",
            "rpo_target_minutes",
            "rto_target_minutes",
            "restore_test_every_days",
        ]
        widgets = {"schedule_cron": CronInput}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown_options = options_for(self.datasource_type)
        for key in OPTION_KEYS:
            field = self.fields.get(OPTION_PREFIX + key)
            if field is None:
                continue
            applies = key in self.shown_options
            # Disabled, the field renders its stored value and Django ignores what is posted
            # for it, so an option of another datasource type is neither an error nor saved.
            field.disabled = not applies
            field.widget.attrs["data-option-applies"] = "true" if applies else "false"
        policy = {**default_retention_policy(), **(self.instance.retention_policy or {})}
        for key in RETENTION_KEYS:
            self.initial.setdefault(RETENTION_PREFIX + key, policy.get(key))
        options = self.stored_options()
        for key in OPTION_KEYS:
            value = options.get(key)
            if key in LIST_OPTIONS:
                value = "\n".join(str(item) for item in value or [])
            self.initial.setdefault(OPTION_PREFIX + key, value)
        cron = self.fields.get("schedule_cron")
        if cron is not None and isinstance(cron.widget, CronInput):
            zone = (self.data.get("schedule_timezone") if self.is_bound else None) or (
                self.initial.get("schedule_timezone") or self.instance.schedule_timezone or "UTC"
            )
            cron.widget.zone = zone if str(zone) in zoneinfo.available_timezones() else "UTC"

    def stored_options(self) -> dict[str, Any]:
        return {**default_backup_options(), **(self.instance.backup_options or {})}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        policy: dict[str, Any] = {}
        for key in RETENTION_KEYS:
            name = RETENTION_PREFIX + key
            value = cleaned.get(name)
            if name not in self.errors and value is not None:
                policy[key] = value
        if not any(RETENTION_PREFIX + key in self.errors for key in RETENTION_KEYS):
            validated = self._validate(RetentionPolicySchema, policy, RETENTION_PREFIX)
            if validated is not None:
                self.instance.retention_policy = validated
        options = self.stored_options()
        for key in self.shown_options:
            name = OPTION_PREFIX + key
            if name in self.errors:
                return cleaned
            value = cleaned.get(name)
            if key in LIST_OPTIONS:
                options[key] = [line.strip() for line in (value or "").splitlines() if line.strip()]
            elif value is None or value == "":
                if key in NULLABLE_OPTIONS:
                    options[key] = None
                else:
                    options.pop(key, None)  # the schema's default
            else:
                options[key] = value
        validated = self._validate(BackupOptionsSchema, options, OPTION_PREFIX)
        kind = self.datasource_type
        if validated is not None and kind is not None and kind in ENGINES:
            # The engine's checks across its own options (MongoDB: oplog and a selection).
            schema, subset = engine_options(kind, validated)
            if self._validate(schema, subset, OPTION_PREFIX) is None:
                validated = None
        if validated is not None:
            self.instance.backup_options = validated
        return cleaned

    def _validate(
        self,
        schema: type[ConfigSchema],
        data: dict[str, Any],
        prefix: str,
    ) -> dict[str, Any] | None:
        """``data`` validated by ``schema``, or None with its errors added to the fields."""
        try:
            return schema.validate_data(data)
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            for key, messages in detail.items():
                lines = drf_to_django_errors(serializers.ValidationError(messages))
                if prefix + str(key) in self.fields:
                    self.add_error(prefix + str(key), lines)
                else:
                    label = "" if key == "non_field_errors" else f"{key}: "
                    self.add_error(None, [f"{label}{line}" for line in lines])
            return None


# Declared after the class, from the engines' schemas; the admin's form subclasses collect
# them from ``declared_fields`` like the ones written above.
for _key, _field in _ENGINE_OPTION_FIELDS.items():
    BackupJobForm.declared_fields[OPTION_PREFIX + _key] = themed(
        form_field_for(_key, _field, secret=False)
    )
    BackupJobForm.base_fields[OPTION_PREFIX + _key] = BackupJobForm.declared_fields[
        OPTION_PREFIX + _key
    ]
