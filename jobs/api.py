"""``/api/backup-jobs``: CRUD. The actions that create or read executions (run now, retention
preview) are added in ``executions.job_api``, which serves this route.

``next_execution_at`` is read-only: the model moves it whenever the schedule changes. So are
``failure_streak`` and ``stale_since``, kept by the alerts (docs/ALERTS.md);
``stale_after_minutes`` is the job's own stale threshold; ``rpo_target_minutes``,
``rto_target_minutes`` and ``restore_test_every_days`` are its recoverability targets and
restore-test window (null: none, or the system setting). ``executions.job_api`` adds the
read-only ``recoverability``.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import ModelViewSet, StrictModelSerializer
from core.registry import ConfigSchema
from datasources.models import Datasource
from jobs.models import BackupJob
from jobs.schedule import next_run
from jobs.schemas import (
    BackupOptionsSchema,
    RetentionPolicySchema,
    default_backup_options,
    default_retention_policy,
    validate_for_engine,
)
from storage.models import StorageLocation


@extend_schema_field(RetentionPolicySchema)
class RetentionPolicyField(serializers.JSONField):
    schema: type[ConfigSchema] = RetentionPolicySchema

    def to_internal_value(self, data: Any) -> Any:
        return self.schema.validate_data(data)


@extend_schema_field(BackupOptionsSchema)
class BackupOptionsField(RetentionPolicyField):
    schema = BackupOptionsSchema


class BackupJobFilter(django_filters.FilterSet):
    datasource = django_filters.UUIDFilter(field_name="datasource_id")
    storage_location = django_filters.UUIDFilter(field_name="storage_location_id")

    class Meta:
        model = BackupJob
        fields = ["enabled", "datasource", "storage_location"]


class BackupJobSerializer(StrictModelSerializer):
    """A job. ``datasource_id`` and ``storage_location_id`` name existing rows; the cron
    expression and the time zone are validated; ``next_execution_at`` is derived."""

    datasource_id = serializers.PrimaryKeyRelatedField(
        source="datasource", queryset=Datasource.objects.all()
    )
    storage_location_id = serializers.PrimaryKeyRelatedField(
        source="storage_location", queryset=StorageLocation.objects.all()
    )
    retention_policy = RetentionPolicyField(required=False, default=default_retention_policy)
    backup_options = BackupOptionsField(required=False, default=default_backup_options)

    class Meta:
        model = BackupJob
        fields = [
            "id",
            "name",
            "datasource_id",
            "storage_location_id",
            "schedule_cron",
            "schedule_timezone",
            "enabled",
            "retention_policy",
            "backup_options",
            "stale_after_minutes",
            "rpo_target_minutes",
            "rto_target_minutes",
            "restore_test_every_days",
            "last_execution_at",
            "next_execution_at",
            "failure_streak",
            "stale_since",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "last_execution_at",
            "next_execution_at",
            "failure_streak",
            "stale_since",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: BackupJob | None = self.instance
        datasource = attrs.get("datasource", instance.datasource if instance else None)
        options = attrs.get("backup_options", instance.backup_options if instance else None)
        if datasource is not None and options is not None:
            try:
                validate_for_engine(datasource.type, options)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"backup_options": exc.detail}) from exc
        cron = attrs.get("schedule_cron", instance.schedule_cron if instance else "")
        tz_name = attrs.get("schedule_timezone", instance.schedule_timezone if instance else "UTC")
        try:
            next_run(cron, tz_name, timezone.now())
        except (ValueError, KeyError, zoneinfo.ZoneInfoNotFoundError) as exc:
            # croniter accepts some expressions that never match (30 February).
            raise serializers.ValidationError(
                {"schedule_cron": ["This schedule never runs."]}
            ) from exc
        return attrs


class BackupJobViewSet(ModelViewSet):
    """Backup jobs. Deleting a job that has executions is refused (409)."""

    queryset = BackupJob.objects.all()
    serializer_class = BackupJobSerializer
    filterset_class = BackupJobFilter
    ordering_fields = ["name", "next_execution_at", "last_execution_at", "created_at"]
    ordering = ["name"]
    in_use_detail = "This job has executions; delete them first."
