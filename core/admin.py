"""Admin of global settings: only known keys, each value validated by its spec."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from rest_framework import serializers

from core import system_settings
from core.admin_base import ModelAdmin
from core.admin_forms import config_display  # also makes ModelAdmin[...] subscriptable
from core.fields import MASK, mask_secrets
from core.models import SystemSetting
from core.system_settings import SPECS
from core.validation import drf_to_django_errors


def masked_value(key: str, value: Any) -> Any:
    """``value`` fit to show: secrets of the key's spec (or any known secret key) masked."""
    spec = SPECS.get(key)
    secrets = spec.secret_fields if spec is not None else system_settings.secret_fields()
    if isinstance(value, dict):
        return mask_secrets(value, secrets)
    return value


class SystemSettingForm(forms.ModelForm):  # type: ignore[type-arg]
    key = forms.ChoiceField(
        choices=[], help_text="Only the settings DataGuardian knows can be added."
    )
    value = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text=f"JSON. A secret shown as {MASK} is kept when left as {MASK}.",
    )

    class Meta:
        model = SystemSetting
        fields = ["key", "value", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "key" in self.fields:
            taken = set(SystemSetting.objects.values_list("key", flat=True))
            field = self.fields["key"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(key, key) for key in SPECS if key not in taken]
        if not self.instance._state.adding:
            self.initial["value"] = masked_value(self.instance.key, self.instance.value)

    def setting_key(self) -> str:
        if not self.instance._state.adding:
            return str(self.instance.key)
        return str(self.cleaned_data.get("key", ""))

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        key = self.setting_key()
        spec = SPECS.get(key)
        if spec is None or "value" in self.errors:
            return cleaned
        value = cleaned.get("value")
        if (
            isinstance(value, dict)
            and not self.instance._state.adding
            and isinstance(self.instance.value, dict)
        ):
            stored = self.instance.value
            value = {
                name: stored.get(name, "") if name in spec.secret_fields and item == MASK else item
                for name, item in value.items()
            }
        try:
            validated = spec.validate(value)
        except serializers.ValidationError as exc:
            self.add_error("value", drf_to_django_errors(exc))
            return cleaned
        # OrderedDicts and the like become plain JSON types.
        cleaned["value"] = json.loads(json.dumps(validated))
        if not cleaned.get("description"):
            cleaned["description"] = spec.description
        return cleaned


@admin.register(SystemSetting)
class SystemSettingAdmin(ModelAdmin[SystemSetting]):
    form = SystemSettingForm
    list_display = ["key", "value_display", "description", "updated_at"]
    search_fields = ["key", "description"]
    ordering = ["key"]
    fieldsets = [
        (
            None,
            {
                "fields": ["key", "value", "description", "updated_at"],
                "description": "Global settings. Each value is checked against what the "
                "setting accepts; secrets are stored encrypted and shown masked.",
            },
        )
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["key", "updated_at"] if obj is not None else ["updated_at"]

    @admin.display(description="Value")
    def value_display(self, obj: SystemSetting) -> SafeString:
        value = masked_value(obj.key, obj.value)
        if isinstance(value, dict):
            return config_display(value, frozenset())
        text = json.dumps(value)
        return format_html("{}", text if len(text) <= 80 else f"{text[:79]}…")
