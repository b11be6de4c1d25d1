"""Registries of strategies (engines, storage adapters, notification channels).

A registry is an explicit ``type -> "dotted.path.Class"`` dict. Classes are imported only when a
type is used, so a heavy client library (boto3, paramiko, pymongo) is loaded only by the
installations that need it. Choices for models, API and admin come from here, never from a
second list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar, cast

from django.utils.module_loading import import_string
from rest_framework import serializers


def _absolute(value: str) -> None:
    if not value.startswith("/"):
        raise serializers.ValidationError("Give an absolute path.")


class AbsolutePathField(serializers.CharField):
    """A file-system path that must be absolute (relative paths depend on the worker's cwd)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 4096)
        super().__init__(**kwargs)
        self.validators.append(_absolute)


class ConfigSchema(serializers.Serializer):  # type: ignore[type-arg]
    """A per-type configuration structure, validated strictly.

    Unknown keys are rejected rather than silently dropped, so a misspelt option is an error the
    operator sees, not a setting that quietly does nothing.
    """

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {name: ["Unknown field."] for name in unknown}
        try:
            value: dict[str, Any] = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                errors.update(exc.detail)
            raise serializers.ValidationError(errors or exc.detail) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value

    @classmethod
    def validate_data(cls, data: Any) -> dict[str, Any]:
        """Return ``data`` validated and normalised, or raise ``serializers.ValidationError``."""
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(["Expected an object of configuration fields."])
        schema = cls(data=dict(data))
        schema.is_valid(raise_exception=True)
        return dict(schema.validated_data)


class Strategy:
    """Base of every registered strategy class.

    ``name`` is the ``type`` value stored on the model, ``label`` what a person reads,
    ``config_schema`` the one declaration of the type's configuration and ``secret_fields`` the
    keys of that configuration that are encrypted at rest and never shown.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    config_schema: ClassVar[type[ConfigSchema]]
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def validate_config(cls, config: Any) -> dict[str, Any]:
        """Return the normalised config, or raise ``serializers.ValidationError``."""
        return cls.config_schema.validate_data(config)


S = TypeVar("S", bound=Strategy)


class UnknownType(LookupError):
    """Raised for a ``type`` that no registry entry declares."""


class Registry(Generic[S]):
    """An explicit mapping of type names to lazily imported strategy classes."""

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> type[S]:
        if name not in self._entries:
            raise UnknownType(
                f"Unknown {self.kind} type {name!r}; expected one of: {', '.join(self._entries)}"
            )
        return cast("type[S]", _load(self._entries[name]))

    def choices(self) -> list[tuple[str, str]]:
        return [(name, self.get(name).label) for name in self._entries]

    def secret_fields(self) -> frozenset[str]:
        """Every key that any type of this registry declares secret."""
        fields: set[str] = set()
        for name in self._entries:
            fields |= self.get(name).secret_fields
        return frozenset(fields)


@cache
def _load(path: str) -> type[Strategy]:
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise TypeError(f"{path} is not a Strategy class")
    return cls
