"""The contract every backup engine declares."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from dataguardian.registry import ConfigSchema, Strategy


class Engine(Strategy):
    """A datasource type: its connection schema and, in its module, how to back it up.

    Subclasses set ``name`` (the ``type`` stored on ``Datasource``), ``label``,
    ``config_schema`` (the structure of ``connection_config``) and ``secret_fields``.
    ``is_database`` tells whether the type is a database server reached over the network.
    """

    is_database: ClassVar[bool] = False


class DatabaseConnectionSchema(ConfigSchema):
    """``connection_config`` of the database servers (seed: host, port, database, username,
    password, ssl_enabled)."""

    default_port: ClassVar[int] = 0

    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    database = serializers.CharField(max_length=255)
    username = serializers.CharField(max_length=255)
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    ssl_enabled = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        value.setdefault("port", self.default_port)
        return value


class DatabaseEngine(Engine):
    is_database = True
    secret_fields = frozenset({"password"})
