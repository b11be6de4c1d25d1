"""The contract every backup engine declares."""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from rest_framework import serializers

from core.registry import ConfigSchema, Strategy
from datasources.engines.tools import Tool
from datasources.engines.verification import Scratch


class NoOptions(ConfigSchema):
    """An engine that reads no options of its own."""


class Engine(Strategy):
    """A datasource type, and everything DataGuardian knows about it.

    One engine module owns its type: the connection schema (``config_schema``, with
    ``secret_fields``), the backup options it reads (``options_schema``), the restore options
    it takes (``restore_options_schema``), backup, restore and health check, the scratch
    target a verification restores into (``scratch``), what a restore target is
    (``path_field``: the config key a restore into a path replaces; None for a database),
    its artifact's extension, and the client tools it runs (``tools``). The manual restore
    recipe is its section of docs/ENGINES.md. ``tests/engines/test_engine_parts.py`` checks
    that every registered engine provides each part.
    """

    is_database: ClassVar[bool] = False
    # The artifact's format before compression, used in its file name (``backup.dump.zst``).
    extension: ClassVar[str] = "bin"
    #: The job options (``BackupJob.backup_options`` keys) this engine reads beyond the ones
    #: every backup uses (compression, chunk size, verification). The job's options schema is
    #: assembled from these (``jobs.schemas``); the job form shows only the datasource's.
    options_schema: ClassVar[type[ConfigSchema]] = NoOptions
    #: The options a restore of this type takes (``RestoreRequest.options``).
    restore_options_schema: ClassVar[type[ConfigSchema]] = NoOptions
    #: The restore options the admin's restore wizard offers, in this order (the others are
    #: taken through the API only).
    admin_restore_options: ClassVar[tuple[str, ...]] = ()
    #: The ``connection_config`` key a restore "into a path" replaces (files: the directory,
    #: SQLite: the database file); None when the restore target is always a datasource.
    path_field: ClassVar[str | None] = None
    #: How the admin names that path ("Directory", "Database file").
    path_label: ClassVar[str] = ""
    #: The restore option that replaces what the target already holds (``manage.py restore
    #: --clean``), if the engine has one.
    replace_option: ClassVar[str | None] = None
    #: The client programs backups and restores run; a missing one is named with its package.
    tools: ClassVar[tuple[Tool, ...]] = ()
    #: The system setting naming a server verifications restore into (None: the datasource's
    #: own server is used for the scratch target).
    scratch_server_setting: ClassVar[str | None] = None

    @classmethod
    def backup_options(cls) -> frozenset[str]:
        """The keys of ``options_schema``."""
        return frozenset(cls.options_schema().fields)

    @classmethod
    def restore_options(cls) -> frozenset[str]:
        return frozenset(cls.restore_options_schema().fields)

    def artifact_extension(self, options: dict[str, Any]) -> str:
        """The extension a backup with these options produces (known before it starts)."""
        return self.extension

    def with_target_path(self, config: Mapping[str, Any], path: str) -> dict[str, Any]:
        """``config`` pointed at ``path`` for a restore into a path."""
        if self.path_field is None:
            raise EngineError(f"{self.label} restores go into a datasource, not a path.")
        return {**config, self.path_field: path}

    def missing_tools(self) -> list[Tool]:
        """The declared tools this worker lacks."""
        return [tool for tool in self.tools if tool.find() is None]

    def require_tools(self) -> None:
        """Raise ``EngineError`` naming the package of each missing tool."""
        missing = self.missing_tools()
        if missing:
            raise EngineError(" ".join(tool.missing_message() for tool in missing))

    def scratch(self, server: Mapping[str, Any], temp_dir: Path) -> AbstractContextManager[Scratch]:
        """A scratch target on ``server`` (the verification server, or the datasource's own
        connection) for a verification to restore into, removed when the context exits."""
        raise NotImplementedError(f"Verification of {self.label} backups is not available.")

    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> AbstractContextManager[BackupStream]:
        """Start a backup of the datasource described by ``config`` (its validated
        ``connection_config``) with the job's ``backup_options``. Temporary files go under
        ``temp_dir`` and are removed when the context exits. Leaving the context without
        ``finish()`` aborts the tool."""
        raise NotImplementedError(f"Backups of {self.label} datasources are not available yet.")

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        """Check that the datasource described by ``config`` answers, returning within about
        ``timeout`` seconds whatever the server does. Failures are results, not exceptions."""
        raise NotImplementedError(f"Health checks of {self.label} datasources are not available.")

    # --- Restore ----------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        """Restore the decompressed artifact that ``source`` yields into the datasource
        described by ``config``, with the restore ``options``; ``manifest`` is the backup's
        ``manifest.json``. Temporary files go under ``temp_dir``. Returns metadata about what
        was restored. A ``source.read`` that raises must stop the restore before the target
        takes anything as complete."""
        raise NotImplementedError(f"Restores of {self.label} datasources are not available yet.")


@dataclass(frozen=True)
class DatabaseConnection:
    """A database server's ``connection_config``, parsed once with its defaults applied."""

    host: str
    port: int
    database: str
    username: str
    password: str = ""
    ssl_enabled: bool = False

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class DatabaseConnectionSchema(ConfigSchema):
    """``connection_config`` of the database servers (seed: host, port, database, username,
    password, ssl_enabled)."""

    default_port: ClassVar[int] = 0

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> DatabaseConnection:
        """The typed connection of a stored (already validated) config; ``port`` defaults to
        the engine's."""
        return DatabaseConnection(
            host=str(config["host"]),
            port=int(config.get("port") or cls.default_port),
            database=str(config.get("database") or ""),
            username=str(config.get("username") or ""),
            password=str(config.get("password") or ""),
            ssl_enabled=bool(config.get("ssl_enabled")),
        )

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
    config_schema: ClassVar[type[DatabaseConnectionSchema]]


class TableSelectionOptions(ConfigSchema):
    """Backup options of the engines that can dump some tables only."""

    include_tables = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        default=list,
        label="Only these tables",
        help_text="One table or pattern per line. Empty: every table.",
    )
    exclude_tables = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        default=list,
        label="Skip these tables",
        help_text="One table or pattern per line.",
    )


# --- Backup contract -----------------------------------------------------------------------


class EngineError(Exception):
    """A backup or restore tool failed. The message is readable and carries no secret; it
    ends with a bounded tail of the tool's stderr where that helps."""


class TransientEngineError(EngineError):
    """A failure worth retrying: connection refused, timeout, server starting up."""


@dataclass
class BackupResult:
    """What an engine reports once its stream has been read to the end and the tool exited 0.

    The artifact's format is not reported here: it is ``Engine.artifact_extension(options)``,
    known before the run starts and the one source of the name. ``metadata`` holds
    ``database_version``, ``tool_version``, ``tables_backed_up``, ``rows_approximate``,
    ``files_count`` and ``engine_output`` (a bounded stderr tail) where they apply.
    """

    metadata: dict[str, Any] = field(default_factory=dict)
    files_count: int | None = None
    #: What the engine's restore reads back: written into ``manifest.json``'s ``engine``
    #: section beside the versions (MongoDB: the database the dump came from).
    restore_facts: dict[str, Any] = field(default_factory=dict)


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


# --- Health contract -----------------------------------------------------------------------

HealthStatus = Literal["ok", "timeout", "auth_failed", "unreachable", "error"]


@dataclass
class HealthResult:
    """What one health check of a datasource found.

    ``status`` is one of the ``HealthCheck.Status`` values. ``error_message`` is readable and
    carries no secret; ``warning`` is set when the datasource answered but something needs
    attention (a disk above its threshold), which makes the datasource ``warning`` without
    counting as a failure. ``metadata`` holds what the check learnt (version, connections,
    uptime, disk usage).
    """

    status: HealthStatus
    latency_ms: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error_message: str = ""
    warning: str = ""


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (a ``time.monotonic()`` value)."""
    return round((time.monotonic() - started) * 1000)


# --- Restore contract ----------------------------------------------------------------------


class RestoreSource(Protocol):
    """The artifact being restored, decompressed: ``read(n)`` returns up to ``n`` bytes,
    ``b""`` at the end, and raises when the stored bytes no longer match their checksums."""

    def read(self, size: int = -1, /) -> bytes: ...
