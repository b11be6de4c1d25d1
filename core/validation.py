"""Validation helpers shared by models, admin and API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import serializers

from core.registry import Registry, UnknownType


def drf_to_django_errors(exc: serializers.ValidationError) -> list[str]:
    """Flatten a DRF error tree into readable ``field: message`` lines for a Django form."""
    lines: list[str] = []

    def walk(detail: Any, prefix: str) -> None:
        if isinstance(detail, dict):
            for key, value in detail.items():
                name = prefix if key == "non_field_errors" else f"{prefix}{key}"
                walk(value, f"{name}: " if name and not name.endswith(": ") else name)
        elif isinstance(detail, list):
            for item in detail:
                walk(item, prefix)
        else:
            lines.append(f"{prefix}{detail}")

    walk(exc.detail, "")
    return lines


def validate_tags(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("Tags must be a list of strings.")
    for tag in value:
        if not tag.strip() or len(tag) > 100:
            raise ValidationError("Each tag is 1 to 100 characters.")


def clean_typed_config(
    registry: Registry[Any], type_name: str, config: Any, config_field: str
) -> dict[str, Any]:
    """Validate ``config`` against the schema of ``type_name`` in ``registry``.

    Returns the normalised config; raises a Django ``ValidationError`` keyed by ``type`` or by
    ``config_field``, so forms and model validation show it on the right field.
    """
    try:
        strategy = registry.get(type_name)
    except UnknownType as exc:
        raise ValidationError({"type": str(exc)}) from exc
    try:
        validated: dict[str, Any] = strategy.validate_config(config)
    except serializers.ValidationError as exc:
        raise ValidationError({config_field: drf_to_django_errors(exc)}) from exc
    return validated
