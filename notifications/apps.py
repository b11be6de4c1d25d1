from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


def _setting_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from notifications.defaults import KEYS, sync_setting_channels

    if instance.key in KEYS:
        sync_setting_channels()


def _after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    from notifications.defaults import sync_setting_channels

    sync_setting_channels()


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core.models import SystemSetting
        from notifications import tasks  # noqa: F401  (sends notifications once they commit)

        post_save.connect(_setting_changed, sender=SystemSetting, dispatch_uid="notifications.sync")
        post_delete.connect(
            _setting_changed, sender=SystemSetting, dispatch_uid="notifications.sync.delete"
        )
        post_migrate.connect(_after_migrate, sender=self)
