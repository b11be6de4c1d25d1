"""The contract every backup engine declares."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from rest_framework import serializers

from dataguardian.registry import ConfigSchema, Strategy


class Engine(Strategy):
    """A datasource type: its connection schema and, in its module, how to back it up.

    Subclasses set ``name`` (the ``type`` stored on ``Datasource``), ``label``,
    ``config_schema`` (the structure of ``connection_config``) and ``secret_fields``.
    ``is_database`` tells whether the type is a database server reached over the network.
    """

    is_database: ClassVar[bool] = False
    # The artifact's format before compression, used in its file name (``backup.dump.zst``).
    extension: ClassVar[str] = "bin"

    def artifact_extension(self, options: dict[str, Any]) -> str:
        """The extension a backup with these options produces (known before it starts)."""
        return self.extension

    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> AbstractContextManager[BackupStream]:
        """Start a backup of the datasource described by ``config`` (its validated
        ``connection_config``) with the job's ``backup_options``. Temporary files go under
        ``temp_dir`` and are removed when the context exits. Leaving the context without
        ``finish()`` aborts the tool."""
        raise NotImplementedError(f"Backups of {self.label} datasources are not available yet.")


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


# --- Backup contract -----------------------------------------------------------------------


class EngineError(Exception):
    """A backup or restore tool failed. The message is readable and carries no secret; it
    ends with a bounded tail of the tool's stderr where that helps."""


class TransientEngineError(EngineError):
    """A failure worth retrying: connection refused, timeout, server starting up."""


@dataclass
class BackupResult:
    """What an engine reports once its stream has been read to the end and the tool exited 0.

    ``extension`` names the artifact before compression (``dump``, ``sql``, ``tar``, ``db``);
    ``metadata`` holds ``database_version``, ``tool_version``, ``tables_backed_up``,
    ``rows_approximate``, ``files_count`` and ``engine_output`` (a bounded stderr tail) where
    they apply.
    """

    extension: str
    metadata: dict[str, Any] = field(default_factory=dict)
    files_count: int | None = None


class BackupStream(Protocol):
    """A running backup: a readable byte stream plus the way to end it.

    ``read(n)`` returns up to ``n`` bytes, ``b""`` at the end. ``finish()`` is called after the
    stream is exhausted: it waits for the tool, raises ``EngineError`` if it exited non-zero
    (even when it wrote bytes) and returns the result. ``abort()`` stops the tool at once
    (cancel, or a failure downstream); it is safe to call more than once.
    """

    def read(self, size: int = -1, /) -> bytes: ...

    def finish(self) -> BackupResult: ...

    def abort(self) -> None: ...
