from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "System"

    def ready(self) -> None:
        # Registers the portable JSON lookups (``tags__has``) on JSONField.
        from core import lookups  # noqa: F401
