"""The admin's base classes: the theme's (django-unfold), typed as Django's own.

Every ModelAdmin and inline of DataGuardian derives from these, so the whole admin has one
look. The theme ships no type information; mypy sees Django's classes, which the theme's
extend without changing their interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline
    StackedInline = admin.StackedInline
else:
    from unfold.admin import ModelAdmin, StackedInline, TabularInline

__all__ = ["ModelAdmin", "StackedInline", "TabularInline"]
