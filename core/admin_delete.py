"""Delete pages that say what protects an object and what to do instead.

Backups are never deleted as a side effect: a job, datasource or storage location that backup
executions (or jobs) refer to cannot be deleted (``on_delete=PROTECT``). Django's delete page
would put that as "your account doesn't have permission to delete ... backup execution", since
executions are read-only in the admin, which sends an operator looking for a permission that
does not exist. These admins instead list what protects the object, why, and the real way:
disable it, or delete the backups first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.contrib.admin.utils import NestedObjects
from django.db import router
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString


class ProtectedDeleteMixin:
    """For a ModelAdmin: on the delete page (and ``delete_selected``), protected related
    objects are listed by kind and count with :meth:`protected_advice`, never as a missing
    permission. Deleting stays refused while anything protects the objects."""

    model: Any

    def protected_advice(self, request: HttpRequest, objs: Sequence[Any]) -> list[SafeString]:
        """What the operator can do instead; one line each."""
        return []

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(  # type: ignore[misc]
            objs, request
        )
        if not protected:
            return deleted, counts, perms_needed, protected
        collector = NestedObjects(using=router.db_for_write(self.model))
        collector.collect(list(objs))
        kinds = Counter(type(obj) for obj in collector.protected)
        target = "it" if len(list(objs)) == 1 else "them"
        lines: list[SafeString] = [
            format_html(
                "{} {} {} to {}. Backups are never deleted as a side effect of deleting what "
                "they were made from or stored in.",
                count,
                model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural,
                "refers" if count == 1 else "refer",
                target,
            )
            for model, count in sorted(kinds.items(), key=lambda item: item[0]._meta.label)
        ]
        # Every "missing permission" here came from the protected objects (read-only in the
        # admin); the page now says why they stay instead.
        return deleted, counts, set(), [*lines, *self.protected_advice(request, list(objs))]
