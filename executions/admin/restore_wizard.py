"""The restore wizard: from a completed backup's page to a queued restore execution.

One page: where to restore (the backup's own datasource, another datasource of the same
type, or, for the engines that restore into a path, a directory or file), the options the
engine offers here (``Engine.admin_restore_options``: PostgreSQL's schemas, tables and clean,
for instance), and, when the target holds data, the target's name typed to confirm. "Holds data" is
``executions.restore.would_overwrite``, the check the restore itself applies: always for a
datasource, for a path only when something is there. When the name is missing or wrong the
page comes back with what the restore will overwrite and every choice kept.

The restore is created by ``restore_execution`` and sent by ``enqueue_restore``, as the API
does; ``RestoreRefused`` comes back as a message on the same page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from core.admin_forms import form_field_for
from core.display import zoned_time
from datasources.models import Datasource
from executions.admin.operations import ExecutionAdmin, may, viewable
from executions.admin.panels import execution_url
from executions.models import BackupExecution
from executions.restore import RestoreRefused, restore_execution, would_overwrite
from executions.tasks import enqueue_restore

SAME, OTHER, PATH = "same", "other", "path"
# The theme styles its own widgets only; these plain ones get the look of its inputs.
INPUT_CLASSES = (
    "border border-base-200 bg-white rounded-default shadow-xs px-3 py-2 w-full max-w-2xl "
    "text-font-default-light dark:bg-base-900 dark:border-base-700 dark:text-font-default-dark"
)
#: Form field names of restore options that differ from the option's own name.
FIELD_NAMES = {"clean": "clean_objects"}


def _items(value: str) -> list[str]:
    separated = value.replace(",", "\n").splitlines()
    return [item.strip() for item in separated if item.strip()]


class RestoreForm(forms.Form):
    """Where and how to restore one backup; ``clean`` resolves the target."""

    target_kind = forms.ChoiceField(label="Restore into", widget=forms.RadioSelect)
    target_datasource = forms.ModelChoiceField(
        queryset=Datasource.objects.none(),
        required=False,
        label="Other datasource",
        help_text="Only datasources of the backup's type are listed.",
    )
    target_path = forms.CharField(
        required=False,
        max_length=4096,
        label="Directory",
        help_text="An absolute path on the worker's machine.",
    )
    confirm_name = forms.CharField(
        required=False,
        max_length=4096,
        label="Type the target's name to confirm",
        help_text="Needed when the target holds data: the restore replaces it.",
    )

    def __init__(self, backup: BackupExecution, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backup = backup
        source = backup.datasource
        choices = [(SAME, f"The backup's own datasource ({source.name})")]
        others = Datasource.objects.filter(type=source.type).exclude(pk=source.pk).order_by("name")
        field = self.fields["target_datasource"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = others
        choices.append((OTHER, f"Another {source.get_type_display()} datasource"))
        engine = source.engine
        if engine.path_field is not None:
            choices.append((PATH, f"A {engine.path_label.lower()}"))
            self.fields["target_path"].label = engine.path_label
        else:
            del self.fields["target_path"]
        schema_fields = engine.restore_options_schema._declared_fields
        self.option_fields: dict[str, str] = {}
        for option in engine.admin_restore_options:
            name = FIELD_NAMES.get(option, option)
            self.fields[name] = form_field_for(option, schema_fields[option], secret=False)
            self.option_fields[name] = option
        # The confirmation comes last, after the options.
        self.fields["confirm_name"] = self.fields.pop("confirm_name")
        kind = self.fields["target_kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = choices
        self.initial.setdefault("target_kind", SAME)
        for field_ in self.fields.values():
            if not isinstance(field_.widget, forms.RadioSelect | forms.CheckboxInput):
                field_.widget.attrs.setdefault("class", INPUT_CLASSES)
        self.target: Datasource = source
        self.chosen_path: str | None = None

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        kind = cleaned.get("target_kind")
        if kind == OTHER:
            target = cleaned.get("target_datasource")
            if target is None:
                self.add_error("target_datasource", "Choose the datasource to restore into.")
            else:
                self.target = target
        elif kind == PATH:
            path = (cleaned.get("target_path") or "").strip()
            if not path:
                self.add_error("target_path", "Enter the directory to restore into.")
            elif not path.startswith("/"):
                self.add_error("target_path", "Enter an absolute path (starting with /).")
            else:
                self.chosen_path = path
        return cleaned

    @property
    def target_name(self) -> str:
        """What the operator types to confirm: the directory, or the datasource's name."""
        return self.chosen_path or self.target.name

    @property
    def overwrites(self) -> bool:
        return would_overwrite(self.chosen_path)

    def options(self) -> dict[str, Any]:
        """The options chosen: a list only when it has items, a flag only when set."""
        data = self.cleaned_data
        options: dict[str, Any] = {}
        for name, option in self.option_fields.items():
            value = data.get(name)
            if isinstance(self.fields[name], forms.BooleanField):
                if value:
                    options[option] = True
            elif isinstance(self.fields[name].widget, forms.Textarea):
                items = _items(value or "")
                if items:
                    options[option] = items
            elif value not in (None, ""):
                options[option] = value
        return options

    def confirmed(self) -> bool:
        return str(self.cleaned_data.get("confirm_name") or "").strip() == self.target_name


def restore_view(admin: ExecutionAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    backup = viewable(admin, request, object_id)
    if not may(request, "add"):
        raise PermissionDenied
    form = RestoreForm(backup, request.POST if request.method == "POST" else None)
    confirming = False
    status = 200
    if request.method == "POST" and form.is_valid():
        if form.overwrites and not form.confirmed():
            confirming = True
            status = 400
            if form.cleaned_data.get("confirm_name"):
                form.add_error("confirm_name", f"Type {form.target_name} exactly to confirm.")
        else:
            try:
                restore = restore_execution(
                    backup,
                    target_datasource=form.target,
                    target_path=form.chosen_path,
                    options=form.options(),
                    confirm=form.overwrites,
                )
            except RestoreRefused as exc:
                admin.message_user(request, str(exc), messages.ERROR)
                status = 400
            else:
                enqueue_restore(restore)
                admin.message_user(
                    request,
                    format_html(
                        "Restore of the backup into {} queued: <a href='{}'>follow it here</a>.",
                        form.target_name,
                        execution_url(restore.pk),
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(execution_url(restore.pk))
    elif request.method == "POST":
        status = 400
    opts = admin.model._meta
    context = {
        **admin.admin_site.each_context(request),
        "title": f"Restore the backup of {backup.job.name}",
        "opts": opts,
        "app_label": opts.app_label,
        "original": backup,
        "backup": backup,
        "finished": zoned_time(backup.finished_at, backup.job.schedule_timezone),
        "form": form,
        "confirming": confirming,
        "change_url": execution_url(backup.pk),
    }
    return TemplateResponse(request, "executions/admin/restore_wizard.html", context, status=status)
