"""Buttons on an object's admin page for what an operator does to it (run, test, cancel …).

Each button is its own small form outside the change form (a form may not nest in another),
so an action that changes something is a POST with the CSRF token, never a link a prefetch
could follow. A button that only leads to another page (a download, a wizard) is a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class ObjectAction:
    """One button: ``id`` is the element's id (pages and browser tests find it by that)."""

    id: str
    label: str
    url: str
    method: str = "post"  # "post": a form with a button; "get": a link
    variant: str = "default"  # "default", "primary" or "danger"
    confirm: str = ""  # asked in the browser before a POST is sent, when set


class ObjectActionsMixin:
    """Shows ``object_actions`` above the change form of an existing object."""

    change_form_outer_before_template = "core/admin/object_actions.html"

    def object_actions(self, request: HttpRequest, obj: Any) -> list[ObjectAction]:
        return []

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context["object_actions"] = self.object_actions(request, obj) if obj is not None else []
        response: HttpResponse = super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )
        return response
