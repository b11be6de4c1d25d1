"""Restoring a backup: storage -> verify -> decompress -> engine, recorded as an execution.

The stored bytes are read twice. The first pass hashes every chunk (streaming, bounded memory)
and compares it with ``manifest.json``, ``SHA256SUMS`` and the chunk rows; nothing reaches the
target unless every chunk is present and intact. The second pass streams the chunks through
the decompressor into the engine, hashing them again: a chunk that changed since the first pass
raises inside the engine's read, which stops the restore tool before it sees the end of its
input.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from rest_framework import serializers

from core import system_settings
from core.validation import drf_to_django_errors
from datasources.engines.base import EngineError
from datasources.models import Datasource
from executions import alerts
from executions.artifact import (
    ArtifactError,
    ChunkReader,
    compression_of,
    expected_chunks,
    manifest_path,
    read_manifest,
    verify_chunks,
)
from executions.events import notify_execution
from executions.heartbeat import heartbeat, reconnect_if_dropped
from executions.models import BackupExecution
from executions.pipeline.compression import open_decompressed
from executions.progress import RestoreProgress, RunStopped
from executions.runlog import recording
from executions.secrets import failure_text, secrets_of
from notifications.models import NotificationType, Severity
from storage.adapters.base import StorageError

logger = logging.getLogger(__name__)


class RestoreRefused(Exception):
    """A restore that must not start; nothing was created or touched."""


# --- Creating a restore ---------------------------------------------------------------------


def restore_execution(
    backup: BackupExecution,
    *,
    target_datasource: Datasource | None = None,
    target_path: str | None = None,
    options: dict[str, Any] | None = None,
    confirm: bool = False,
) -> BackupExecution:
    """A ``queued`` restore execution of ``backup`` into ``target_datasource`` (default: the
    backup's own datasource), or, for the engines restoring into a path (files, SQLite), into
    ``target_path``.

    Raises ``RestoreRefused`` when the backup is not a completed backup, the target is of
    another type, an option is not one the engine takes, or the restore would write over a
    datasource without ``confirm``.
    """
    if backup.kind != BackupExecution.Kind.BACKUP:
        raise RestoreRefused(f"Execution {backup.id} is a restore, not a backup.")
    if backup.status != BackupExecution.Status.COMPLETED:
        raise RestoreRefused(
            f"Only completed backups can be restored; execution {backup.id} is {backup.status}."
        )
    target = target_datasource or backup.datasource
    if target.type != backup.datasource.type:
        raise RestoreRefused(
            f"A {backup.datasource.type} backup cannot be restored into {target.name}, a "
            f"{target.type} datasource."
        )
    engine = target.engine
    if target_path is not None:
        if engine.path_field is None:
            raise RestoreRefused(
                f"A target path applies to files and SQLite restores, not to {target.type}."
            )
        if not Path(target_path).is_absolute():
            raise RestoreRefused(f"The target path {target_path!r} must be absolute.")
    try:
        options = engine.restore_options_schema.validate_data(options or {})
    except serializers.ValidationError as exc:
        problems = "; ".join(drf_to_django_errors(exc))
        raise RestoreRefused(f"Invalid options for a {engine.label} restore: {problems}") from None
    if not confirm and would_overwrite(target_path):
        where = target_path or f"datasource {target.name}"
        raise RestoreRefused(
            f"Restoring over {where} replaces its data; confirm the restore to go ahead."
        )
    return BackupExecution.objects.create(
        job_id=backup.job_id,
        datasource=target,
        storage_location_id=backup.storage_location_id,
        kind=BackupExecution.Kind.RESTORE,
        source_execution=backup,
        trigger=BackupExecution.Trigger.MANUAL,
        metadata={"restore_options": dict(options or {}), "target_path": target_path},
    )


def would_overwrite(target_path: str | None) -> bool:
    """Whether the restore writes where data already is: always for a datasource; for a
    path only when something is there (a non-empty directory, or a file)."""
    if target_path is None:
        return True
    path = Path(target_path)
    if path.is_dir() and not path.is_symlink():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


# --- Running it -----------------------------------------------------------------------------


def perform_restore(execution: BackupExecution) -> bool:
    """Run a restore execution (claiming it first when still ``queued``) to its end.

    Returns True on success. On failure the execution is ``failed`` with a readable,
    secret-free message and a ``restore_failed`` notification is recorded. Its log lines are
    stored in its ``log_tail``.
    """
    with recording(execution):
        return _perform_restore(execution)


def _perform_restore(execution: BackupExecution) -> bool:
    if execution.status == BackupExecution.Status.QUEUED:
        execution.claim(worker="restore")
    if execution.status != BackupExecution.Status.RUNNING:
        logger.info("Restore %s is %s; not running it", execution.id, execution.status)
        return False
    backup = execution.source_execution
    if backup is None:
        execution.fail("The backup this restore was made from no longer exists.")
        return False
    target = execution.datasource
    adapter = execution.storage_location.adapter(execution.storage_location.config)
    options = dict(execution.metadata.get("restore_options") or {})
    target_path = execution.metadata.get("target_path")
    config = dict(target.connection_config)
    if target_path:
        config = target.engine().with_target_path(config, target_path)
    temp_dir = Path(system_settings.get("system.temp_directory")) / f"restore-{execution.id}"
    started = time.monotonic()
    try:
        manifest = read_manifest(adapter, backup)
        chunks = expected_chunks(adapter, backup, manifest)
        total = sum(chunk.size for chunk in chunks)
        logger.info(
            "Restore of backup %s into %s started: %d chunk(s), %d stored bytes",
            backup.id,
            target_path or target.name,
            len(chunks),
            total,
        )
        progress = RestoreProgress(execution, total)
        engine = target.engine()
        engine.require_tools()
        with heartbeat(execution.id):
            verify_chunks(adapter, chunks, manifest, progress)
            logger.info("Every chunk matches its SHA-256; restoring")
            temp_dir.mkdir(parents=True, mode=0o700)
            with ChunkReader(adapter, chunks, progress) as raw:
                stream = open_decompressed(raw, compression_of(manifest))
                result = engine.restore(config, options, stream, temp_dir, manifest)
                raw.check_complete()
    except Exception as exc:
        return _failed(execution, exc)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)

    execution.complete(
        size_bytes=manifest.get("size_bytes"),
        compressed_size_bytes=total,
        # No backup_path: a restore owns no stored files, and anything that deletes an
        # execution's artifact by that column must never reach the backup it came from.
        backup_path=None,
        files_count=result.get("files_restored"),
        metadata={
            **execution.metadata,
            **result,
            "source_manifest": manifest_path(backup),
            "checksum": manifest.get("sha256"),
            "seconds": round(time.monotonic() - started, 3),
        },
        progress={"phase": "done", "bytes_total": total, "bytes_done": total},
    )
    logger.info("Restore %s completed in %s s", execution.id, execution.metadata["seconds"])
    notify_execution(
        NotificationType.RESTORE_COMPLETED,
        Severity.INFO,
        f"Restore into {target.name} completed",
        f"Backup {backup.id} restored ({total} stored bytes) in {execution.duration_seconds} s.",
        execution,
        backup_id=str(backup.id),
    )
    return True


def _failed(execution: BackupExecution, exc: Exception) -> bool:
    reconnect_if_dropped()  # a dropped metadata connection: record the failure on a new one
    if isinstance(exc, RunStopped):
        logger.info("Restore %s cancelled", execution.id)
        return False
    message, stack = failure_text(
        exc, secrets_of(execution), (EngineError, StorageError, ArtifactError)
    )
    logger.warning("Restore %s failed: %s", execution.id, message)
    execution.fail(message, stack)
    alerts.restore_failed(execution, message)
    return False
