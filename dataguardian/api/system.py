"""The system endpoints: ``/api/auth/token``, ``/api/health``, ``/api/system/settings``,
``/api/system/stats`` and ``/api/system/recoverability``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import system_settings
from core.api import Schema
from core.fields import MASK, mask_secrets
from executions.tasks import enqueue_due_jobs

#: Seconds the health endpoint waits for the broker and for workers to answer.
BROKER_TIMEOUT_SECONDS = 1.0
WORKERS_TIMEOUT_SECONDS = 1.0
#: The beat task whose ``last_run_at`` tells whether the scheduler is alive.
TICK_TASK = enqueue_due_jobs.name


# --- Auth -----------------------------------------------------------------------------------


class TokenView(ObtainAuthToken):
    """``POST /api/auth/token`` with ``username`` and ``password`` -> ``{"token": ...}``."""

    schema = Schema()

    @extend_schema(
        request=inline_serializer(
            "TokenRequest",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            400: OpenApiTypes.OBJECT,
        },
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


# --- Health ---------------------------------------------------------------------------------


def _timed(check: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        extra = check() or {}
    except Exception as exc:  # a failing dependency is a result; its text may name hosts
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.monotonic() - started) * 1000, 1), **extra}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    import redis

    url = settings.CELERY_BROKER_URL
    if not str(url).startswith("redis"):
        from dataguardian.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=int(BROKER_TIMEOUT_SECONDS) or 1)
        return
    client = redis.Redis.from_url(
        url,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def _workers() -> dict[str, Any]:
    from dataguardian.celery import app

    replies = app.control.inspect(timeout=WORKERS_TIMEOUT_SECONDS).ping() or {}
    if not replies:
        raise LookupError("no worker answered")
    return {"workers": sorted(replies)}


def _beat() -> dict[str, Any]:
    from django_celery_beat.models import PeriodicTask

    last = (
        PeriodicTask.objects.filter(task=TICK_TASK)
        .order_by("-last_run_at")
        .values_list("last_run_at", flat=True)
        .first()
    )
    if last is None:
        raise LookupError("the tick has not run")
    return {"last_run_at": last.isoformat()}


def _storage() -> dict[str, Any]:
    from storage.models import StorageLocation

    counts = dict(StorageLocation.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {"locations": {str(k): int(v) for k, v in counts.items()}}


class HealthView(APIView):
    """Detailed health for the operator (``/health`` is the public, terse one).

    The worker ping waits at most ``WORKERS_TIMEOUT_SECONDS``: with no worker running the call
    takes that long, which is the price of knowing."""

    schema = Schema()

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        checks = {
            "database": _timed(_database),
            "broker": _timed(_broker),
        }
        checks["workers"] = (
            _timed(_workers)
            if checks["broker"]["status"] == "up"
            else {"status": "down", "error": "broker unreachable"}
        )
        checks["beat"] = _timed(_beat)
        checks["storage"] = _timed(_storage)
        essential = ("database", "broker")
        healthy = all(checks[name]["status"] == "up" for name in essential)
        body = {"status": "ok" if healthy else "degraded", **checks}
        return Response(body, status=200 if healthy else 503)


# --- Settings -------------------------------------------------------------------------------


def _shown(key: str, value: Any) -> Any:
    spec = system_settings.SPECS[key]
    if spec.secret_fields and isinstance(value, Mapping):
        return mask_secrets(dict(value), spec.secret_fields)
    return value


def _all_settings() -> dict[str, Any]:
    from core.models import SystemSetting

    stored = dict(
        SystemSetting.objects.filter(key__in=system_settings.SPECS).values_list("key", "value")
    )
    return {
        key: _shown(key, stored[key] if key in stored else spec.default())
        for key, spec in system_settings.SPECS.items()
    }


def _with_stored_secrets(key: str, value: Any, stored: Any) -> Any:
    spec = system_settings.SPECS[key]
    if not (spec.secret_fields and isinstance(value, Mapping) and isinstance(stored, Mapping)):
        return value
    merged = dict(value)
    for name in spec.secret_fields:
        if merged.get(name) in (None, "", MASK) and stored.get(name) not in (None, ""):
            merged[name] = stored[name]
    return merged


class SettingsView(APIView):
    """Every known setting (``GET``), or a change of some of them (``PUT`` of a dict)."""

    schema = Schema()

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(_all_settings())

    @extend_schema(
        request={"application/json": build_basic_type(OpenApiTypes.OBJECT)},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def put(self, request: Request) -> Response:
        from core.models import SystemSetting

        data = request.data
        if not isinstance(data, Mapping) or not data:
            return Response(
                {"non_field_errors": ["Send an object of setting keys and values."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        errors: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for key, value in data.items():
            spec = system_settings.SPECS.get(str(key))
            if spec is None:
                errors[str(key)] = ["Unknown setting."]
                continue
            stored = system_settings.get(spec.key)
            try:
                values[spec.key] = spec.validate(_with_stored_secrets(spec.key, value, stored))
            except serializers.ValidationError as exc:
                errors[spec.key] = exc.detail
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        with transaction.atomic():
            for key, value in values.items():
                description = system_settings.SPECS[key].description
                SystemSetting.objects.update_or_create(
                    key=key, defaults={"value": value, "description": description}
                )
        return Response(_all_settings())


# --- Stats ----------------------------------------------------------------------------------


class StatsView(APIView):
    """Counts for a dashboard: executions per status, stored bytes, the last 24 hours, and the
    last successful backup of each datasource."""

    schema = Schema()

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        from datasources.models import Datasource
        from executions.models import BackupExecution

        completed = BackupExecution.Status.COMPLETED
        backups = BackupExecution.objects.filter(kind=BackupExecution.Kind.BACKUP)
        by_status = dict(backups.values_list("status").annotate(n=Count("id")).order_by())
        stored = backups.filter(status=completed).aggregate(total=Sum("compressed_size_bytes"))
        since = timezone.now() - timedelta(hours=24)
        recent = backups.filter(created_at__gte=since).aggregate(
            succeeded=Count("id", filter=Q(status=completed)),
            failed=Count("id", filter=Q(status=BackupExecution.Status.FAILED)),
        )
        per_source = Datasource.objects.annotate(
            last_backup_at=Max(
                "backup_executions__finished_at",
                filter=Q(
                    backup_executions__status=completed,
                    backup_executions__kind=BackupExecution.Kind.BACKUP,
                ),
            )
        ).values("id", "name", "status", "last_backup_at")
        return Response(
            {
                "executions_by_status": {
                    s: int(by_status.get(s, 0)) for s in BackupExecution.Status.values
                },
                "total_stored_bytes": int(stored["total"] or 0),
                "last_24h": {"succeeded": recent["succeeded"], "failed": recent["failed"]},
                "datasources": [
                    {
                        "id": str(row["id"]),
                        "name": row["name"],
                        "status": row["status"],
                        "last_backup_at": (
                            row["last_backup_at"].isoformat() if row["last_backup_at"] else None
                        ),
                    }
                    for row in per_source
                ],
            }
        )


# --- Recoverability -------------------------------------------------------------------------


class RecoverabilityView(APIView):
    """Every job's RPO and RTO, its targets and its restore-test window, with the counts of
    jobs in trouble (docs/OBSERVABILITY.md). Three queries however many jobs there are."""

    schema = Schema()

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        from datasources.models import Datasource
        from executions import recoverability

        now = timezone.now()
        days = int(system_settings.get("verification.restore_test_every_days"))
        rows = recoverability.report(now)
        names = dict(
            Datasource.objects.filter(pk__in={row.job.datasource_id for row in rows}).values_list(
                "id", "name"
            )
        )
        jobs = [
            {
                "id": str(row.job.pk),
                "name": row.job.name,
                "datasource": {
                    "id": str(row.job.datasource_id),
                    "name": names.get(row.job.datasource_id, ""),
                },
                "enabled": row.job.enabled,
                **row.as_dict(),
            }
            for row in rows
        ]
        summary = {
            "jobs": len(rows),
            "rpo_target_missed": sum(row.rpo_target_missed for row in rows),
            "rto_target_missed": sum(row.rto_target_missed for row in rows),
            "verification_overdue": sum(row.verification_overdue for row in rows),
            "never_verified": sum(
                row.job.enabled and row.job.verified_backup_at is None for row in rows
            ),
        }
        return Response(
            {
                "generated_at": now.isoformat(),
                "restore_test_every_days": days,
                "jobs": jobs,
                "summary": summary,
            }
        )
