"""Models of the project package: global settings."""

from __future__ import annotations

from django.db import models

from core.fields import EncryptedConfigField


class SystemSetting(models.Model):
    """A global setting (seed table ``system_settings``), keyed by a dotted name such as
    ``system.max_concurrent_backups``. Known keys, their defaults and validation live in
    ``core.system_settings``."""

    key = models.CharField(max_length=100, primary_key=True)
    value = EncryptedConfigField(
        null=True, blank=True, encrypted_keys_from="core.system_settings.secret_fields"
    )
    description = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "system_settings"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
