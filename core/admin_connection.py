"""Saving a typed object in the admin tests its connection first, with "Save anyway" to insist.

A datasource or storage location whose settings do not connect is almost always a typo, and
finding out at the first backup, hours later, is the expensive way. So the form runs the same
connection test as the API on the settings as entered (stored secrets filled in for blank
ones), before anything is saved. A failure is a form-wide error naming its category
("Unreachable", "Authentication failed", "Missing", "Permission denied") with the tool's short,
secret-free message, and the form shows a ``save_anyway`` checkbox: a server that is down for
maintenance is still the right server to save.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.contrib.admin import helpers
from django.db import models
from django.http import HttpRequest, HttpResponse

from core.admin_forms import ConfigModelForm, TypedConfigAdmin

SAVE_ANYWAY = "save_anyway"
SAVE_ANYWAY_HELP = (
    "Save these settings although the connection test failed. The status stays Unknown until "
    "the next health check."
)


@dataclass(frozen=True)
class ConnectionProblem:
    """A failed connection test: its category in the operator's words and a short message."""

    category: str
    message: str


class ConnectionTestedForm(ConfigModelForm):
    """A configuration form that tests the connection of a valid configuration before saving.

    Subclasses implement :meth:`test_connection`. After ``is_valid()``, ``connection_passed``
    tells whether the test ran and passed, ``saved_untested`` whether the operator ticked
    "Save anyway" (the test is then skipped: it would only fail again, slowly).
    """

    save_anyway = forms.BooleanField(
        required=False, label="Save anyway", help_text=SAVE_ANYWAY_HELP
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_problem: ConnectionProblem | None = None
        self.connection_passed = False
        self.saved_untested = False

    def test_connection(self, config_type: str, config: dict[str, Any]) -> ConnectionProblem | None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Only a configuration that is valid in itself is worth a network round trip; the
        # other errors are shown first.
        if self.strategy is None or self._config_failed or self.errors:
            return cleaned
        if cleaned.get(SAVE_ANYWAY):
            self.saved_untested = True
            return cleaned
        config = dict(getattr(self.instance, self.config_attr) or {})
        problem = self.test_connection(self.config_type, config)
        if problem is None:
            self.connection_passed = True
            return cleaned
        self.connection_problem = problem
        self.add_error(
            None,
            f"Connection test failed — {problem.category}: {problem.message} Nothing was "
            "saved. Correct the settings, or tick “Save anyway” below to save them untested.",
        )
        return cleaned

    @property
    def changed_data(self) -> list[str]:
        # Ticking "Save anyway" changes nothing about the object; the history says what did.
        return [name for name in super().changed_data if name != SAVE_ANYWAY]

    @property
    def shows_save_anyway(self) -> bool:
        """Whether the form offers "Save anyway": after a failed test, or when it was ticked
        and another error sent the form back."""
        return self.connection_problem is not None or bool(self.data.get(SAVE_ANYWAY))


_M = TypeVar("_M", bound=models.Model)


class ConnectionTestedAdmin(TypedConfigAdmin[_M]):
    """A typed-config admin whose form tests the connection (``config_form_base`` is a
    :class:`ConnectionTestedForm`) and shows "Save anyway" once a test failed."""

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        admin_form = context.get("adminform")
        form = getattr(admin_form, "form", None)
        if (
            isinstance(admin_form, helpers.AdminForm)
            and isinstance(form, ConnectionTestedForm)
            and form.shows_save_anyway
        ):
            extra: dict[str, Any] = {
                "fields": [SAVE_ANYWAY],
                "description": "The settings were not saved because the connection test failed.",
            }
            context["adminform"] = helpers.AdminForm(
                form,
                [*admin_form.fieldsets, ("Connection test failed", extra)],
                dict(self.get_prepopulated_fields(request, obj)),
                admin_form.readonly_fields,
                model_admin=admin_form.model_admin,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)
