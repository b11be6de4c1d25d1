"""Shared pieces of the admin: status badges and per-type configuration forms.

A datasource's ``connection_config`` and a storage location's ``config`` have one structure per
``type``, declared once as a DRF serializer in the type's registry entry. The admin never edits
them as raw JSON (that would echo passwords): it builds a form field per schema field, renders
secrets as inputs that never show the stored value, and validates with the registry's
``validate_config`` so a bad value is a form error, not a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from rest_framework import serializers
from rest_framework.fields import empty

from core.admin_base import ModelAdmin
from core.admin_widgets import themed
from core.fields import mask_secrets
from core.registry import Registry, Strategy, UnknownType
from core.validation import drf_to_django_errors

# --- Status badges -------------------------------------------------------------------------

# One colour per status value, whatever model the status belongs to: a value means the same
# thing everywhere ("critical" is red on a datasource and on a notification).
STATUS_COLOURS: dict[str, str] = {
    # good
    "healthy": "#2e7d32",
    "ok": "#2e7d32",
    "completed": "#2e7d32",
    # in progress / neutral
    "running": "#1565c0",
    "info": "#1565c0",
    "queued": "#607d8b",
    "unknown": "#607d8b",
    "cancelled": "#607d8b",
    # needs attention
    "warning": "#ef6c00",
    "full": "#ef6c00",
    "timeout": "#ef6c00",
    # broken
    "critical": "#c62828",
    "failed": "#c62828",
    "unreachable": "#c62828",
    "auth_failed": "#c62828",
    "error": "#c62828",
}
DEFAULT_COLOUR = "#607d8b"


class ReadOnlyMixin:
    """Viewable, never added, changed or deleted from the admin: records the system writes."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def status_badge(value: str, label: str) -> SafeString:
    """A coloured pill showing ``label``, coloured by ``value``."""
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'font-size:11px;font-weight:bold;white-space:nowrap">{}</span>',
        STATUS_COLOURS.get(value, DEFAULT_COLOUR),
        label,
    )


def config_display(config: Any, secret_fields: frozenset[str]) -> SafeString:
    """A read-only rendering of a configuration with every secret masked."""
    if not isinstance(config, Mapping) or not config:
        return format_html("{}", "—")
    shown = mask_secrets(dict(config), secret_fields)
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", shown.items())
    return format_html("<table>{}</table>", rows)


# --- Per-type configuration forms -----------------------------------------------------------

CONFIG_PREFIX = "config_"
KEEP_STORED_HELP = "Leave blank to keep the stored value; the stored value is never shown."
LIST_HELP = "One item per line (or comma-separated)."


class SecretTextarea(forms.Textarea):
    """A textarea for multi-line secrets (private keys) that never renders a value."""

    def format_value(self, value: Any) -> str | None:
        return None


def _initial(field: serializers.Field) -> Any:  # type: ignore[type-arg]
    default = field.default
    if default is empty or callable(default):
        return None
    if isinstance(default, list):
        return "\n".join(str(item) for item in default)
    return default


def form_field_for(
    name: str,
    field: serializers.Field,  # type: ignore[type-arg]
    *,
    secret: bool,
) -> forms.Field:
    """The Django form field that edits one DRF schema field."""
    label = str(field.label) if field.label else name.replace("_", " ").capitalize()
    help_text = str(field.help_text) if field.help_text else ""
    required = bool(field.required)
    initial = None if secret else _initial(field)
    common: dict[str, Any] = {"label": label, "help_text": help_text, "initial": initial}
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(required=False, **common)
    if isinstance(field, serializers.ChoiceField):
        choices: list[tuple[Any, Any]] = list(field.choices.items())
        if not required:
            choices = [("", "---------"), *choices]
        return forms.ChoiceField(choices=choices, required=required, **common)
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(
            required=required, min_value=field.min_value, max_value=field.max_value, **common
        )
    if isinstance(field, serializers.FloatField):
        return forms.FloatField(
            required=required, min_value=field.min_value, max_value=field.max_value, **common
        )
    if isinstance(field, serializers.ListField):
        common["help_text"] = " ".join(filter(None, [help_text, LIST_HELP]))
        return forms.CharField(
            required=required, widget=forms.Textarea(attrs={"rows": 3}), **common
        )
    if isinstance(field, serializers.URLField):
        return forms.URLField(
            required=required, max_length=field.max_length, assume_scheme="https", **common
        )
    if isinstance(field, serializers.EmailField):
        return forms.EmailField(required=required, max_length=field.max_length, **common)
    max_length = getattr(field, "max_length", None)
    strip = bool(getattr(field, "trim_whitespace", True))
    widget: forms.Widget | None = None
    if secret:
        widget = (
            SecretTextarea(attrs={"rows": 4})
            if max_length is not None and max_length > 4096
            else forms.PasswordInput(render_value=False)
        )
    elif max_length is not None and max_length > 4096 and name not in {"path"}:
        widget = forms.Textarea(attrs={"rows": 3})
    return forms.CharField(
        required=required,
        max_length=max_length,
        min_length=getattr(field, "min_length", None),
        strip=strip,
        widget=widget,
        **common,
    )


def _split_items(value: str) -> list[str]:
    lines = value.splitlines() if "\n" in value else value.split(",")
    return [item.strip() for item in lines if item.strip()]


class ConfigModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form with one field per key of the type's configuration schema.

    Subclasses are made by :func:`config_form_class`; ``strategy`` is ``None`` when the stored
    type is no longer registered (the configuration is then left as it is).
    """

    strategy: ClassVar[type[Strategy] | None] = None
    config_type: ClassVar[str] = ""
    config_attr: ClassVar[str] = "config"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.instance.type = self.config_type
        self._config_failed = False
        stored = self.stored_config()
        strategy = self.strategy
        if strategy is None:
            return
        for name, schema_field in strategy.config_schema().fields.items():
            key = CONFIG_PREFIX + name
            if key not in self.fields:
                continue
            if name in strategy.secret_fields:
                if stored.get(name) not in (None, ""):
                    self.fields[key].required = False
                    self.fields[key].help_text = KEEP_STORED_HELP
                continue
            if name in stored:
                value = stored[name]
                if isinstance(schema_field, serializers.ListField) and isinstance(value, list):
                    value = "\n".join(str(item) for item in value)
                self.initial[key] = value

    def stored_config(self) -> dict[str, Any]:
        if self.instance._state.adding:
            return {}
        value = getattr(self.instance, self.config_attr, None)
        return dict(value) if isinstance(value, Mapping) else {}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        strategy = self.strategy
        if strategy is None:
            return cleaned
        stored = self.stored_config()
        config: dict[str, Any] = {}
        for name, schema_field in strategy.config_schema().fields.items():
            key = CONFIG_PREFIX + name
            if key in self.errors:
                self._config_failed = True
                continue
            value = cleaned.get(key)
            if isinstance(schema_field, serializers.BooleanField):
                config[name] = bool(value)
            elif isinstance(schema_field, serializers.ListField):
                items = _split_items(value or "")
                if items or schema_field.required:
                    config[name] = items
            elif value in (None, ""):
                if name in strategy.secret_fields and stored.get(name) not in (None, ""):
                    config[name] = stored[name]  # blank keeps the stored secret
                # otherwise leave the key out: the schema applies its default
            else:
                config[name] = value
        if self._config_failed:
            return cleaned
        try:
            validated = strategy.validate_config(config)
        except serializers.ValidationError as exc:
            self._config_failed = True
            self._add_schema_errors(exc)
            return cleaned
        setattr(self.instance, self.config_attr, validated)
        return cleaned

    def _add_schema_errors(self, exc: serializers.ValidationError) -> None:
        detail = exc.detail
        if not isinstance(detail, dict):
            self.add_error(None, drf_to_django_errors(exc))
            return
        for name, messages in detail.items():
            key = CONFIG_PREFIX + str(name)
            lines = drf_to_django_errors(serializers.ValidationError(messages))
            if key in self.fields:
                self.add_error(key, lines)
            else:
                target = "" if name == "non_field_errors" else f"{name}: "
                self.add_error(None, [f"{target}{line}" for line in lines])

    def _update_errors(self, errors: ValidationError) -> None:
        # Model.clean() reports config/type errors under model fields this form does not
        # have; Django would raise ValueError (a 500). Show them as form-wide errors instead,
        # or drop them when the per-field errors above already say the same.
        if hasattr(errors, "error_dict"):
            moved: list[ValidationError] = []
            for name in (self.config_attr, "type"):
                if name in errors.error_dict and name not in self.fields:
                    messages = errors.error_dict.pop(name)
                    if not self._config_failed:
                        moved.extend(messages)
            if moved:
                errors.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(moved)
            if not errors.error_dict:
                return
        super()._update_errors(errors)  # type: ignore[misc]  # private, not in the stubs


def config_form_class(
    base: type[ConfigModelForm], registry: Registry[Any], config_type: str, config_attr: str
) -> type[ConfigModelForm]:
    """A subclass of ``base`` with the fields of ``config_type``'s schema declared on it."""
    strategy: type[Strategy] | None
    try:
        strategy = registry.get(config_type)
    except UnknownType:
        strategy = None
    attrs: dict[str, Any] = {
        "strategy": strategy,
        "config_type": config_type,
        "config_attr": config_attr,
        "__module__": base.__module__,
    }
    if strategy is not None:
        for name, schema_field in strategy.config_schema().fields.items():
            attrs[CONFIG_PREFIX + name] = themed(
                form_field_for(name, schema_field, secret=name in strategy.secret_fields)
            )
    return type(f"{config_type.title()}{base.__name__}", (base,), attrs)


def config_field_names(registry: Registry[Any], config_type: str) -> list[str]:
    try:
        strategy = registry.get(config_type)
    except UnknownType:
        return []
    return [CONFIG_PREFIX + name for name in strategy.config_schema().fields]


class TypeChoiceForm(forms.Form):
    """Step one of adding a typed object: pick the type."""

    type = forms.ChoiceField(label="Type")

    def __init__(self, choices: list[tuple[str, str]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


_M = TypeVar("_M", bound=models.Model)


class TypedConfigAdmin(ModelAdmin[_M]):
    """Admin of a model whose ``type`` selects the structure of a configuration field.

    Adding is two steps: the add page without ``?type=`` asks for the type, then reloads with
    ``?type=<name>`` and shows that type's fields. The type is read-only afterwards.
    """

    registry: ClassVar[Registry[Any]]
    config_attr: ClassVar[str]
    config_section: ClassVar[str] = "Configuration"
    #: The form class the per-type forms derive from.
    config_form_base: ClassVar[type[ConfigModelForm]] = ConfigModelForm
    form = ConfigModelForm

    def config_type_for(self, request: HttpRequest, obj: _M | None) -> str:
        if obj is not None:
            return str(getattr(obj, "type", ""))
        return request.GET.get("type", "")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = config_form_class(
            self.config_form_base,
            self.registry,
            self.config_type_for(request, obj),
            self.config_attr,
        )
        return super().get_form(request, obj, change=change, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # ``?type=`` chose the schema; it is not an initial value of any field.
        initial = super().get_changeform_initial_data(request)
        initial.pop("type", None)
        return initial

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        chooser = TypeChoiceForm(
            self.registry.choices(), request.GET if "type" in request.GET else None
        )
        if not chooser.is_valid():
            opts = self.model._meta
            context = {
                **self.admin_site.each_context(request),
                "title": f"Add {opts.verbose_name}",
                "subtitle": "Choose the type",
                "opts": opts,
                "app_label": opts.app_label,
                "form": chooser,
                "has_view_permission": self.has_view_permission(request),
                **(extra_context or {}),
            }
            return TemplateResponse(request, "admin/config_type_select.html", context)
        return super().add_view(request, form_url, extra_context)

    @admin.display(description="Stored configuration")
    def config_summary(self, obj: _M) -> SafeString:
        try:
            secrets = self.registry.get(str(getattr(obj, "type", ""))).secret_fields
        except UnknownType:
            secrets = self.registry.secret_fields()
        return config_display(getattr(obj, self.config_attr, None), secrets)
