"""The theme's look for form fields the admin builds itself.

django-unfold styles the widgets of model fields; fields built from a configuration schema
(``core.admin_forms.form_field_for``) get Django's plain widgets, which the theme leaves bare:
an input then reads like a read-only value. :func:`themed` gives such a field the CSS classes
the theme gives its own widgets, keeping the widget (and so its behaviour, such as a password
input that never renders its value).
"""

from __future__ import annotations

from django import forms
from unfold.widgets import CHECKBOX_CLASSES, INPUT_CLASSES, SELECT_CLASSES, TEXTAREA_CLASSES


def themed(field: forms.Field) -> forms.Field:
    """``field``, its widget carrying the theme's classes for its kind of input."""
    widget = field.widget
    if isinstance(widget, forms.CheckboxInput):
        classes = CHECKBOX_CLASSES
    elif isinstance(widget, forms.Select):
        classes = SELECT_CLASSES
    elif isinstance(widget, forms.Textarea):
        classes = TEXTAREA_CLASSES
    else:
        classes = INPUT_CLASSES
    widget.attrs["class"] = " ".join([*classes, widget.attrs.get("class", "")]).strip()
    return field
