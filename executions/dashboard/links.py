"""Links from the dashboard's numbers to the admin lists they count."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse


def changelist(model: str, **filters: Any) -> str:
    """The admin list of ``model`` ("app_label.model_name") filtered by ``filters``, lookups
    the list accepts in its query string (``status__exact``, ``created_at__gte``, …)."""
    app_label, model_name = model.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    query = {key: _param(value) for key, value in filters.items()}
    return f"{url}?{urlencode(query)}" if query else url


def change(model: str, pk: object) -> str:
    app_label, model_name = model.split(".")
    return reverse(f"admin:{app_label}_{model_name}_change", args=[pk])


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        # Whole seconds keep the links short; the admin parses the ISO form with its offset.
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
