"""Buttons on an object's admin page for what an operator does to it (run, test, cancel …).

Each button is its own small form outside the change form (a form may not nest in another),
so an action that changes something is a POST with the CSRF token, never a link a prefetch
could follow. A button that only leads to another page (a download, a wizard) is a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse

if TYPE_CHECKING:
    # The mixins are used with ModelAdmin; mypy checks them as one.
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


@dataclass(frozen=True)
class ObjectAction:
    """One button: ``id`` is the element's id (pages and browser tests find it by that)."""

    id: str
    label: str
    url: str
    method: str = "post"  # "post": a form with a button; "get": a link
    variant: str = "default"  # "default", "primary" or "danger"
    confirm: str = ""  # asked in the browser before a POST is sent, when set


class ObjectActionsMixin(_AdminBase):
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
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )


class ConnectionTestMixin(ObjectActionsMixin):
    """ "Test connection": a changelist action and a button on the object's page.

    ``connection_test`` runs the app's own check (the one its API's test-connection calls)
    and says how it went: a message level (success or error) and a text free of secrets.
    """

    def connection_test(self, obj: Any) -> tuple[int, str]:
        raise NotImplementedError

    def _route(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_test_connection"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.test_connection_view)
        own = [path("<str:object_id>/test-connection/", view, name=self._route())]
        return own + super().get_urls()

    def object_actions(self, request: HttpRequest, obj: Any) -> list[ObjectAction]:
        actions = super().object_actions(request, obj)
        if self.has_change_permission(request, obj):
            url = reverse(f"admin:{self._route()}", args=[obj.pk])
            actions.append(ObjectAction("action-test-connection", "Test connection", url))
        return actions

    def _report(self, request: HttpRequest, obj: Any) -> None:
        level, text = self.connection_test(obj)
        self.message_user(request, text, level)

    @admin.action(description="Test the connection of the selected now")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self._report(request, obj)

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("No such object.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        self._report(request, obj)
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )
