"""System checks for what must be true at start."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def data_dir_writable(app_configs: Any, **kwargs: Any) -> list[Error]:
    if not os.access(settings.DATA_DIR, os.W_OK):
        return [
            Error(
                f"The data directory {settings.DATA_DIR} is not writable.",
                hint="Set DATAGUARDIAN_DATA_DIR to a directory this user can write.",
                id="dataguardian.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def embedded_mode_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.EMBEDDED:
        return [
            Warning(
                "DataGuardian runs in embedded mode (SQLite and a file-system broker).",
                hint="Set DATABASE_URL (PostgreSQL) and REDIS_URL for production.",
                id="dataguardian.W001",
            )
        ]
    return []
