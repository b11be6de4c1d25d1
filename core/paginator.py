"""A paginator for the admin's big tables (executions, health checks, notifications) that
never counts a whole table.

Django's paginator runs ``SELECT COUNT(*)`` over the filtered list on every page; on a table
of millions of rows that scan costs more than the page itself. This one counts at most
``CAP + 1`` rows (a ``LIMIT``ed subquery, so the database stops early); beyond that the list
is shown as "10,000+" and the page links reach the first ``CAP`` rows, which is as far as
anybody pages before filtering. An unfiltered list on PostgreSQL uses the planner's row
estimate (``pg_class.reltuples``, kept by autovacuum) instead, shown as "about N", so every
page of it stays reachable.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

#: Rows counted exactly; a list longer than this is shown as "10,000+".
CAP = 10_000


def _table_estimate(queryset: QuerySet[Any]) -> int | None:
    """The planner's row estimate of the table of an unfiltered ``queryset`` on PostgreSQL;
    None elsewhere, for a filtered one, or when the table was never analysed."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or queryset.query.where:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """Counts up to ``CAP`` rows exactly, and no further (see the module's docstring)."""

    template_name = "admin/capped_pagination.html"
    cap = CAP

    #: Whether the list holds more than ``cap`` rows (its count is then not exact).
    more = False
    #: Whether ``count`` is PostgreSQL's estimate of the table's size.
    estimated = False

    @cached_property
    def count(self) -> int:
        objects = self.object_list
        if not isinstance(objects, QuerySet):
            return len(objects)
        counted = objects.order_by()[: self.cap + 1].count()
        if counted <= self.cap:
            return counted
        self.more = True
        estimate = _table_estimate(objects)
        if estimate is not None and estimate > self.cap:
            self.estimated = True
            return estimate
        return self.cap

    @property
    def count_label(self) -> str:
        """The count as shown: exact, "about 123,456" or "10,000+"."""
        count = self.count
        if self.estimated:
            return f"about {count:,}"
        if self.more:
            return f"{count:,}+"
        return f"{count:,}"
