"""Links from the dashboard's numbers to the admin lists they count."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse


def changelist(model: str, **filters: Any) -> str:
    """The admin list of ``model`` ("app_label.model_name") filtered by ``filters``, lookups
    the list accepts in its query string (``status__exact``, ``created_at__gte``, …)."""
    url = _changelist_url(model)
    query = {key: _param(value) for key, value in filters.items()}
    return f"{url}?{urlencode(query)}" if query else url


@cache
def _changelist_url(model: str) -> str:
    # Reversed once per model: the strips link each of their hundreds of cells.
    app_label, model_name = model.split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist")


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
