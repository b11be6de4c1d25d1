"""The big lists' default ordering and their filters on foreign keys and status each have an
index led by that column, so none of them sorts or scans the whole table."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import models

from datasources.models import HealthCheck
from executions.models import BackupExecution
from notifications.models import Delivery, Notification


def _leading_columns(model: type[models.Model]) -> set[str]:
    """Columns that lead an index of ``model``: its declared indexes and its foreign keys."""
    leading = set()
    for index in model._meta.indexes:
        if index.fields:
            leading.add(index.fields[0].lstrip("-"))
        else:
            first = index.expressions[0]
            expression = getattr(first, "expression", first)
            leading.add(expression.name)
    for field in model._meta.fields:
        if isinstance(field, models.ForeignKey) and getattr(field, "db_index", False):
            leading.add(field.name)
    return leading


@pytest.mark.parametrize("model", [BackupExecution, HealthCheck, Notification, Delivery])
def test_the_default_ordering_is_indexed(model):
    first = next(iter(admin.site._registry[model].ordering or ()), None)
    assert isinstance(first, str)
    assert first.lstrip("-") in _leading_columns(model)


@pytest.mark.parametrize(
    ("model", "filters"),
    [
        (BackupExecution, ["status", "job", "datasource", "storage_location"]),
        (HealthCheck, ["datasource"]),
    ],
)
def test_the_filters_by_status_and_relation_are_indexed(model, filters):
    listed = admin.site._registry[model].list_filter
    leading = _leading_columns(model)
    for name in filters:
        assert name in listed
        assert name in leading, name
