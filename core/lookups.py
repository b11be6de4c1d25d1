"""Lookups that work the same on PostgreSQL and on the embedded SQLite.

Django's ``contains`` on a JSONField is PostgreSQL-only (SQLite raises NotSupportedError), yet
"the datasources tagged prod" is asked in both modes. ``has`` answers it for a JSON list of
strings: ``Datasource.objects.filter(tags__has="prod")``.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import JSONField, Lookup
from django.db.models.sql.compiler import SQLCompiler


@JSONField.register_lookup
class JSONListHas(Lookup[str]):
    """The JSON list on the left holds the string on the right."""

    lookup_name = "has"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        if not isinstance(self.rhs, str):
            raise TypeError(f"{self.lookup_name} takes a string, not {type(self.rhs).__name__}")
        return self.rhs

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} @> %s::jsonb", (*lhs_params, json.dumps([self.rhs]))
        if connection.vendor == "sqlite":
            # lhs is the column SQL Django compiled; the value stays a parameter.
            sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value = %s)"  # noqa: S608
            return sql, (*lhs_params, self.rhs)
        raise NotImplementedError(f"{self.lookup_name} is not written for {connection.vendor}")
