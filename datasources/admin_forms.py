"""The datasource form of the admin: tags as a comma-separated list, connection tested on save."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin_connection import ConnectionProblem, ConnectionTestedForm
from core.validation import validate_tags
from datasources.connection import failure_category, test_connection

TAGS_HELP = (
    "Comma-separated, e.g. <code>production, eu</code>. Notification rules and the API's "
    "<code>?tag=</code> filter select datasources by tag."
)


def split_tags(value: str) -> list[str]:
    """``"prod, eu, prod"`` → ``["prod", "eu"]``: trimmed, empty items and repeats dropped."""
    tags: list[str] = []
    for item in value.split(","):
        tag = item.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def tag_chips(tags: list[str] | None) -> SafeString:
    """The tags as small pills, for lists and read-only views."""
    if not tags:
        return format_html("{}", "—")
    return format_html_join(
        " ",
        '<span class="dg-tag" style="display:inline-block;background:#e3e8ef;color:#334155;'
        'padding:1px 8px;border-radius:10px;font-size:11px;white-space:nowrap">{}</span>',
        ((tag,) for tag in tags),
    )


class DatasourceForm(ConnectionTestedForm):
    """A datasource's form: per-type connection fields (from the engine's schema), tags typed
    as ``a, b, c``, and the connection tested before saving."""

    tags = forms.CharField(
        required=False,
        label="Tags",
        help_text=TAGS_HELP,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "production, eu"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["tags"] = ", ".join(self.instance.tags or [])

    def clean_tags(self) -> list[str]:
        tags = split_tags(self.cleaned_data.get("tags") or "")
        # The same rule as the API's (and the model's): one place says what a tag may be.
        try:
            validate_tags(tags)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc
        return tags

    def test_connection(self, config_type: str, config: dict[str, Any]) -> ConnectionProblem | None:
        result = test_connection(config_type, config)
        if result.status == "ok":
            self.connection_warning = result.warning
            return None
        return ConnectionProblem(
            failure_category(result), result.error_message or "The check gave no reason."
        )
