from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    from core import system_settings
    from dataguardian import periodic

    periodic.ensure_periodic_tasks()
    system_settings.ensure_defaults()


class DataGuardianConfig(AppConfig):
    name = "dataguardian"
    verbose_name = "DataGuardian"

    def ready(self) -> None:
        from django.apps import apps

        from dataguardian import (
            checks,  # noqa: F401  (registers the system checks)
            datadir,
        )

        datadir.prepare()
        # Sent for apps that have models: the global settings live in core, so its migrate
        # is the moment the periodic tasks and the settings' defaults can be written.
        post_migrate.connect(_after_migrate, sender=apps.get_app_config("core"))
