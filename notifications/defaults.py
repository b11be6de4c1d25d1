"""The seed's ``notifications.*`` system settings, kept working as two managed channels.

When ``notifications.email_enabled`` is true and ``notifications.email_smtp_config`` is set,
a channel named ``System e-mail`` sends with that SMTP configuration; when
``notifications.webhook_url`` is set, ``System webhook`` posts to it (unsigned, since the
setting has no secret). Both follow the default rule (warning and above, every type but
``backup_success``). They are rewritten whenever one of those settings is saved, and removed
when the settings are cleared; change them through the settings, not the channel.
"""

from __future__ import annotations

from typing import Any

from core import system_settings
from notifications.models import NotificationChannel

EMAIL = "notifications.email_smtp_config"
WEBHOOK = "notifications.webhook_url"
KEYS = {"notifications.email_enabled", EMAIL, WEBHOOK}


def _email_config(smtp: dict[str, Any]) -> dict[str, Any]:
    security = "tls" if smtp.get("use_ssl") else ("starttls" if smtp.get("use_tls") else "none")
    return {
        "host": smtp["host"],
        "port": smtp.get("port") or 587,
        "security": security,
        "username": smtp.get("username") or "",
        "password": smtp.get("password") or "",
        "from_email": smtp["from_email"],
        "to": list(smtp["to"]),
    }


def _sync(managed_by: str, name: str, type_name: str, config: dict[str, Any] | None) -> None:
    if config is None:
        NotificationChannel.objects.filter(managed_by=managed_by).delete()
        return
    channel = NotificationChannel.objects.filter(managed_by=managed_by).first()
    if channel is None:
        channel = NotificationChannel(managed_by=managed_by, name=name, type=type_name)
    channel.config = NotificationChannel(type=type_name).channel.validate_config(config)
    channel.save()


def sync_setting_channels() -> None:
    """Make the managed channels match the settings (idempotent)."""
    smtp = system_settings.get(EMAIL)
    enabled = bool(system_settings.get("notifications.email_enabled"))
    _sync(EMAIL, "System e-mail", "email", _email_config(smtp) if enabled and smtp else None)
    url = system_settings.get(WEBHOOK)
    _sync(WEBHOOK, "System webhook", "webhook", {"url": url} if url else None)
