"""Running one backup: engine -> pipeline -> storage, then the manifest, then the record.

Plain code, called by the Celery task and by ``manage.py backup``. The artifact is published
chunk by chunk and ``manifest.json`` is written last; a run that fails or is cancelled deletes
whatever it wrote, so nothing incomplete looks like a backup.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from core import system_settings
from datasources.engines.base import EngineError, TransientEngineError
from executions import alerts
from executions import progress as progress_module
from executions.artifact import (
    MANIFEST,
    artifact_directory,
    artifact_names,
    build_manifest,
    write_index,
)
from executions.events import notify_execution
from executions.heartbeat import heartbeat, reconnect_if_dropped
from executions.models import BackupChunk, BackupExecution
from executions.pipeline.compression import make_compressor
from executions.pipeline.stream import run_pipeline
from executions.progress import RunStopped, record_backup_progress
from executions.runlog import recording
from executions.secrets import failure_text, scrub, secrets_of
from notifications.models import NotificationType, Severity
from storage.adapters.base import StorageAdapter, StorageError, TransientStorageError

logger = logging.getLogger(__name__)

TRANSIENT = (TransientEngineError, TransientStorageError, ConnectionError, TimeoutError)


class RetryableBackupError(Exception):
    """A transient failure; the execution is queued again for a retry."""


def perform_backup(execution: BackupExecution, *, retry_allowed: bool = False) -> bool:
    """Run a claimed (``running``) backup execution to its end. Returns True on success.

    On failure the partial artifact is deleted and the execution marked ``failed`` with a
    readable, secret-free message, the job's failure streak counted and a ``backup_failed``
    notification recorded with it; but when ``retry_allowed`` and the error is transient, the
    execution is queued again and ``RetryableBackupError`` raised for the caller to schedule
    the retry. Whether a
    verification should follow is ``verification_due``'s to say; the caller sends it. A
    completed backup ends the job's failure streak and staleness and is compared with the
    ones before it (``executions.alerts``). Its log lines are stored in its ``log_tail``.
    """
    with recording(execution):
        return _perform_backup(execution, retry_allowed)


def _perform_backup(execution: BackupExecution, retry_allowed: bool) -> bool:
    job = execution.job
    datasource = execution.datasource
    location = execution.storage_location
    options = dict(job.backup_options)
    engine = datasource.engine()
    extension = engine.artifact_extension(options)
    adapter = location.adapter(location.config)
    directory = artifact_directory(execution)
    temp_root = Path(system_settings.get("system.temp_directory"))
    temp_dir = temp_root / f"run-{execution.id}"
    compressor = make_compressor(
        options.get("compression", "zstd"),
        options.get("compression_level"),
        options.get("compression_threads", 1),
    )
    max_mb = options.get("max_file_size_mb")
    max_chunk = max_mb * 1024 * 1024 if max_mb else None
    size_hint = max_chunk or _expected_size(execution)
    started = time.monotonic()
    logger.info(
        "Backup of %s (%s) to %s started: compression %s%s, attempt %s",
        datasource.name,
        datasource.type,
        location.name,
        options.get("compression", "zstd"),
        f", chunks of {max_mb} MB" if max_mb else "",
        execution.attempt,
    )
    try:
        engine.require_tools()
        temp_dir.mkdir(parents=True, mode=0o700)
        with (
            heartbeat(execution.id),
            engine.backup(datasource.connection_config, options, temp_dir) as stream,
        ):
            names = artifact_names(extension, compressor.extension, max_chunk is not None)
            try:
                result = run_pipeline(
                    stream,
                    compressor,
                    lambda n: adapter.open_write(f"{directory}/{names(n)}", size_hint=size_hint),
                    max_chunk,
                    progress=lambda p: record_backup_progress(execution.pk, p),
                    progress_interval=progress_module.PROGRESS_INTERVAL,
                    chunk_name=names,
                )
            except BaseException:
                stream.abort()
                raise
            engine_result = stream.finish()
        manifest = build_manifest(
            execution,
            options,
            result,
            engine_result.metadata,
            extension,
            compressor.extension,
            engine_result.restore_facts,
        )
        if engine_result.metadata.get("engine_output"):
            logger.info("%s said: %s", engine.label, engine_result.metadata["engine_output"])
        manifest_sha256 = write_index(adapter, directory, result.chunks, manifest)
    except Exception as exc:
        _discard(adapter, directory)
        return _failed(execution, exc, retry_allowed)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)

    BackupChunk.objects.bulk_create(
        BackupChunk(
            execution=execution,
            chunk_number=chunk.number,
            file_path=f"{directory}/{chunk.name}",
            size_bytes=chunk.size,
            checksum=chunk.sha256,
        )
        for chunk in result.chunks
    )
    ratio = result.compressed_bytes / result.raw_bytes if result.raw_bytes else None
    # What the run carried before it started (``retry_of`` for a reaper's retry) stays.
    metadata = {
        **execution.metadata,
        **engine_result.metadata,
        "compression": options.get("compression"),
        "compression_ratio": round(ratio, 4) if ratio is not None else None,
        "checksum": result.sha256,
        "manifest": f"{directory}/{MANIFEST}",
        "manifest_sha256": manifest_sha256,
        "seconds": round(time.monotonic() - started, 3),
    }
    execution.complete(
        size_bytes=result.raw_bytes,
        compressed_size_bytes=result.compressed_bytes,
        backup_path=directory,
        files_count=engine_result.files_count,
        metadata=metadata,
        progress={
            "phase": "done",
            "bytes_in": result.raw_bytes,
            "bytes_out": result.compressed_bytes,
        },
    )
    job.__class__.objects.filter(pk=job.pk).update(last_execution_at=execution.finished_at)
    logger.info(
        "Backup %s completed in %s s: %s bytes read, %s stored in %d chunk(s) at %s",
        execution.id,
        metadata["seconds"],
        result.raw_bytes,
        result.compressed_bytes,
        len(result.chunks),
        directory,
    )
    notify_execution(
        NotificationType.BACKUP_SUCCESS,
        Severity.INFO,
        f"Backup of {datasource.name} completed",
        f"{result.raw_bytes} bytes, {result.compressed_bytes} stored, in "
        f"{execution.duration_seconds} s.",
        execution,
    )
    alerts.backup_completed(execution)
    return True


def verification_due(execution: BackupExecution) -> bool:
    """Whether a completed backup asks to be verified right after it ran."""
    return execution.status == BackupExecution.Status.COMPLETED and bool(
        execution.job.backup_options.get("verify_after_backup")
    )


def _expected_size(execution: BackupExecution) -> int | None:
    """Twice the job's last stored size: the estimate object stores size their parts by.

    A chunk limit bounds a chunk exactly and is used instead when set; a first run has no
    estimate and the adapter falls back to its default part size.
    """
    last = (
        BackupExecution.objects.filter(
            job_id=execution.job_id,
            kind=BackupExecution.Kind.BACKUP,
            status=BackupExecution.Status.COMPLETED,
            compressed_size_bytes__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("compressed_size_bytes", flat=True)
        .first()
    )
    return None if last is None else 2 * last


def _discard(adapter: StorageAdapter, directory: str) -> None:
    try:
        adapter.delete(directory)
    except Exception:  # the original error matters more; this one is logged
        logger.exception("Could not remove the partial artifact %s", directory)


def _failed(execution: BackupExecution, exc: Exception, retry_allowed: bool) -> bool:
    # A run that failed because the metadata database dropped its connection records that
    # on a new one, rather than staying "running" until the reaper.
    reconnect_if_dropped()
    secrets = secrets_of(execution)
    if isinstance(exc, RunStopped):
        logger.info("Backup %s cancelled", execution.id)
        return False
    if retry_allowed and isinstance(exc, TRANSIENT):
        execution.requeue()
        raise RetryableBackupError(scrub(str(exc), secrets)) from exc
    message, stack = failure_text(exc, secrets, (EngineError, StorageError))
    logger.warning("Backup %s failed: %s", execution.id, message)
    execution.fail(message, stack)
    alerts.backup_failed(execution, message)
    return False
