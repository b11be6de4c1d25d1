"""The REST API's shared pieces: the one pagination class, a serializer base that rejects unknown
fields, the typed configuration field (validated through the registry's schema, secrets
write-only) and the router every app registers on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db import NotSupportedError, connection
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from core.fields import MASK, mask_secrets
from core.registry import Registry, UnknownType

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


class InUse(APIException):
    """A delete refused because other rows still use the object: 409 with a ``detail``."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "in_use"


class ModelViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """The API's CRUD viewset: its pagination and its documented errors."""

    pagination_class = Pagination
    schema = Schema()
    # Any id reaches the view (a malformed one is a JSON 404 there), not only ids without dots.
    lookup_value_regex = "[^/]+"
    #: The ``detail`` of the 409 answer to deleting an object that other rows still use.
    in_use_detail: ClassVar[str] = "Other records use this object; delete them first."

    def perform_destroy(self, instance: Any) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            raise InUse(self.in_use_detail) from exc


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


class NotSupportedHere(APIException):
    status_code = status.HTTP_501_NOT_IMPLEMENTED
    default_code = "not_supported"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a clear 501 for a query the metadata database cannot run (a
    PostgreSQL-only lookup on the embedded SQLite) instead of a 500."""
    if isinstance(exc, NotSupportedError):
        exc = NotSupportedHere(
            f"The {connection.vendor} metadata database cannot answer this request ({exc}). "
            "Run DataGuardian on PostgreSQL (DATABASE_URL) to use it."
        )
    return drf_exception_handler(exc, context)


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


def merge_typed_config(
    registry: Registry[Any],
    attrs: dict[str, Any],
    instance: Any,
    field_name: str,
    noun: str,
) -> bool:
    """The shared part of a typed object's ``validate``: its ``type`` never changes, and
    ``attrs[field_name]`` is validated against the type's schema with stored secrets kept
    (``merge_config``). Returns whether the configuration was (re)validated."""
    if instance is not None and "type" in attrs and attrs["type"] != instance.type:
        raise serializers.ValidationError(
            {"type": [f"The type of a {noun} cannot change; create a new one."]}
        )
    if field_name not in attrs and instance is not None:
        return False
    type_name = attrs.get("type") or (instance.type if instance else "")
    attrs[field_name] = merge_config(
        registry,
        type_name,
        attrs.get(field_name, {}),
        getattr(instance, field_name) if instance else None,
        field_name,
    )
    return True
