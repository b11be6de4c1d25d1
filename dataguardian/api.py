"""The REST API's shared pieces and its system endpoints.

Shared: the one pagination class, a serializer base that rejects unknown fields, the typed
configuration field (validated through the registry's schema, secrets write-only) and the
router every app registers on. System: ``/api/health``, ``/api/system/settings``,
``/api/system/stats`` and ``/api/auth/token``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.defaults import page_not_found
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from dataguardian import system_settings
from dataguardian.fields import MASK, mask_secrets
from dataguardian.registry import Registry, UnknownType

#: Seconds the health endpoint waits for the broker and for workers to answer.
BROKER_TIMEOUT_SECONDS = 1.0
WORKERS_TIMEOUT_SECONDS = 1.0
#: The beat task whose ``last_run_at`` tells whether the scheduler is alive.
TICK_TASK = "executions.tasks.enqueue_due_jobs"


#: Answers every endpoint may give besides its documented success: a validation error (or a
#: page past the end, a missing row), a missing or wrong login, a refused CSRF token.
ERROR_CODES = ("400", "401", "403", "404")
ERROR_BODY = {
    "description": "Error: ``detail`` or one list of messages per field.",
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": {}}}},
}


class Schema(AutoSchema):
    """drf-spectacular's schema plus the error answers, so a client (and schemathesis) knows
    every status an operation can return."""

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        codes = ERROR_CODES + (("409",) if self.method == "DELETE" else ())
        for code in codes:
            responses.setdefault(code, ERROR_BODY)
        return responses


class Pagination(PageNumberPagination):
    """The API's only pagination: ``?page=N&page_size=M`` (at most 500 per page)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ModelViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """The API's CRUD viewset: its pagination and its documented errors."""

    pagination_class = Pagination
    schema = Schema()
    # Any id reaches the view (a malformed one is a JSON 404 there), not only ids without dots.
    lookup_value_regex = "[^/]+"


class ReadOnlyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """The API's list-and-retrieve viewset: its pagination and its documented errors."""

    pagination_class = Pagination
    schema = Schema()
    # Any id reaches the view (a malformed one is a JSON 404 there), not only ids without dots.
    lookup_value_regex = "[^/]+"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for URLs that match no route: JSON under ``/api/`` (clients parse it), Django's page
    elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception or Http404())


def router() -> DefaultRouter:
    """A router whose routes answer with and without the trailing slash."""
    r = DefaultRouter()
    r.trailing_slash = "/?"
    return r


class StrictSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Rejects fields it does not declare (or declares read-only): a misspelt field is an error
    the client sees, not a setting that silently does nothing."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):  # type: ignore[type-arg]
    """A ``ModelSerializer`` that rejects unknown fields."""


def secret_fields_of(registry: Registry[Any], type_name: str) -> frozenset[str]:
    """The secret keys of ``type_name``; every secret key of the registry when the type is
    unknown, so an unexpected row can never leak one."""
    try:
        secrets: frozenset[str] = registry.get(type_name).secret_fields
    except UnknownType:
        return registry.secret_fields()
    return secrets


class ConfigField(serializers.JSONField):
    """A typed configuration object (``connection_config``, ``config``).

    Reading gives the stored configuration with every secret replaced by ``MASK``. Writing takes
    an object that the serializer validates against the schema of the object's ``type``
    (:func:`merge_config`), keeping stored secrets the client omits or sends back masked.
    """

    registry: ClassVar[Registry[Any]]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Per-type configuration; secrets are write-only.")
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        config = super().get_attribute(instance)
        if not isinstance(config, Mapping):
            return {}
        return mask_secrets(dict(config), secret_fields_of(self.registry, instance.type))

    def to_representation(self, value: Any) -> Any:
        return value

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError("Expected an object of configuration fields.")
        return dict(data)


class ConfigFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """Documents a configuration field as ``anyOf`` the per-type schemas of its registry (not
    ``oneOf``: several database types share one structure)."""

    target_class = ConfigField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        registry: Registry[Any] = self.target.registry
        refs = []
        for name in registry:
            schema_cls = registry.get(name).config_schema
            component = auto_schema.resolve_serializer(schema_cls, direction)
            refs.append(component.ref)
        return {"anyOf": refs, "description": str(self.target.help_text or "")}


def merge_config(
    registry: Registry[Any],
    type_name: str,
    incoming: Mapping[str, Any] | None,
    stored: Mapping[str, Any] | None,
    field_name: str,
) -> dict[str, Any]:
    """Validate ``incoming`` (or ``stored`` when ``None``) against ``type_name``'s schema.

    A secret the client leaves out, sends empty or sends back as ``MASK`` keeps its stored
    value: secrets are never shown, so a client cannot be expected to send them again.
    """
    try:
        strategy = registry.get(type_name)
    except UnknownType as exc:
        raise serializers.ValidationError({"type": [str(exc)]}) from exc
    stored = dict(stored or {})
    config = dict(incoming) if incoming is not None else dict(stored)
    for key in strategy.secret_fields:
        if config.get(key) in (None, "", MASK) and stored.get(key) not in (None, ""):
            config[key] = stored[key]
        elif config.get(key) == MASK:
            config.pop(key)
    try:
        validated: dict[str, Any] = strategy.validate_config(config)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({field_name: exc.detail}) from exc
    return validated


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
    from dataguardian.models import SystemSetting

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
        from dataguardian.models import SystemSetting

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
