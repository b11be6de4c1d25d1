"""The known ``system_settings`` keys: their defaults, descriptions and validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers

from core.registry import AbsolutePathField, ConfigSchema


class SmtpConfigSchema(ConfigSchema):
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, default=587)
    username = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    use_tls = serializers.BooleanField(default=True)
    use_ssl = serializers.BooleanField(default=False)
    from_email = serializers.EmailField()
    to = serializers.ListField(child=serializers.EmailField(), min_length=1)


class VerificationServerSchema(ConfigSchema):
    """A database server that verified backups are restored into (no database: a scratch one
    is created there for each verification and dropped after it)."""

    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    username = serializers.CharField(max_length=255)
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    ssl_enabled = serializers.BooleanField(required=False, default=False)
    maintenance_database = serializers.CharField(
        max_length=255,
        required=False,
        default="postgres",
        help_text="PostgreSQL: the database connected to for creating the scratch one.",
    )


@dataclass(frozen=True)
class SettingSpec:
    key: str
    description: str
    field: serializers.Field  # type: ignore[type-arg]
    secret_fields: frozenset[str] = frozenset()

    def default(self) -> Any:
        if self.key == "system.temp_directory":
            return str(settings.DATA_DIR / "tmp")
        return self.field.get_default()

    def validate(self, value: Any) -> Any:
        return self.field.run_validation(value)


SPECS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in [
        SettingSpec(
            "notifications.email_enabled",
            "Send notifications by e-mail (uses notifications.email_smtp_config).",
            serializers.BooleanField(default=False),
        ),
        SettingSpec(
            "notifications.email_smtp_config",
            "SMTP server and recipients for e-mail notifications.",
            SmtpConfigSchema(allow_null=True, default=None),
            secret_fields=frozenset({"password"}),
        ),
        SettingSpec(
            "notifications.webhook_url",
            "URL that receives a JSON POST for every notification (empty: none).",
            serializers.URLField(allow_null=True, allow_blank=True, default=None),
        ),
        SettingSpec(
            "notifications.failing_after",
            "Deliveries that fail for good in a row before a channel is marked failing and "
            "the other channels are told.",
            serializers.IntegerField(min_value=1, max_value=1000, default=5),
        ),
        SettingSpec(
            "verification.postgres_server",
            "PostgreSQL server that verified backups are restored into (empty: the backup's "
            "own server and credentials).",
            VerificationServerSchema(allow_null=True, default=None),
            secret_fields=frozenset({"password"}),
        ),
        SettingSpec(
            "verification.mysql_server",
            "MySQL / MariaDB server that verified backups are restored into (empty: the "
            "backup's own server and credentials).",
            VerificationServerSchema(allow_null=True, default=None),
            secret_fields=frozenset({"password"}),
        ),
        SettingSpec(
            "verification.restore_test_every_days",
            "Verify the newest completed backup of every job at least this often (days), "
            "spread over the window; 0 turns scheduled restore tests off. A job's own "
            "restore_test_every_days overrides it.",
            serializers.IntegerField(min_value=0, max_value=365, default=7),
        ),
        SettingSpec(
            "system.max_concurrent_verifications",
            "Most verifications (restore tests) running at once across all workers; the rest wait.",
            serializers.IntegerField(min_value=1, max_value=64, default=1),
        ),
        SettingSpec(
            "system.max_concurrent_backups",
            "Most backups running at once across all workers; the rest wait queued.",
            serializers.IntegerField(min_value=1, max_value=64, default=3),
        ),
        SettingSpec(
            "system.temp_directory",
            "Where a run's temporary files go (pg_dump directory format, SQLite copies).",
            AbsolutePathField(),
        ),
        SettingSpec(
            "alerts.anomaly_drop_percent",
            "Raise backup_anomaly when a completed backup's size or row count is more than this "
            "many percent below the median of the job's last 5 completed backups (1-99).",
            serializers.IntegerField(min_value=1, max_value=99, default=50),
        ),
    ]
}


def secret_fields() -> frozenset[str]:
    """Keys inside setting values encrypted at rest (used by the model field)."""
    fields: set[str] = set()
    for spec in SPECS.values():
        fields |= spec.secret_fields
    return frozenset(fields)


def get(key: str) -> Any:
    """The value of a known setting: the stored one, or its default."""
    from core.models import SystemSetting

    spec = SPECS[key]
    row = SystemSetting.objects.filter(key=key).first()
    return row.value if row is not None else spec.default()


def ensure_defaults() -> None:
    """Create the rows of known settings that are missing (never overwrites a stored value)."""
    from core.models import SystemSetting

    for spec in SPECS.values():
        SystemSetting.objects.get_or_create(
            key=spec.key, defaults={"value": spec.default(), "description": spec.description}
        )
