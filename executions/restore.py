"""Restoring a backup: storage -> verify -> decompress -> engine, recorded as an execution.

The stored bytes are read twice. The first pass hashes every chunk (streaming, bounded memory)
and compares it with ``manifest.json``, ``SHA256SUMS`` and the chunk rows; nothing reaches the
target unless every chunk is present and intact. The second pass streams the chunks through
the decompressor into the engine, hashing them again: a chunk that changed since the first pass
raises inside the engine's read, which stops the restore tool before it sees the end of its
input.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.utils import timezone

from core import system_settings
from datasources.engines.base import EngineError
from datasources.models import Datasource
from executions.backup import CHECKSUMS, MANIFEST, PROGRESS_INTERVAL
from executions.heartbeat import heartbeat
from executions.models import BackupExecution
from executions.pipeline.compression import open_decompressed
from executions.secrets import failure_text, secrets_of
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify
from storage.adapters.base import StorageAdapter, StorageError, StoragePathMissing

logger = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
# Where the target of a files or SQLite restore is a path, not the datasource's own.
PATH_FIELDS = {"files": "source_path", "sqlite": "file_path"}


class RestoreRefused(Exception):
    """A restore that must not start; nothing was created or touched."""


class RestoreError(Exception):
    """The artifact cannot be restored (missing or corrupt chunk, bad manifest)."""


class RestoreCancelled(Exception):
    """The restore execution was cancelled while it ran."""


@dataclass(frozen=True)
class Chunk:
    number: int
    path: str  # relative to the storage root
    size: int
    sha256: str


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
    backup's own datasource), or, for files and SQLite, into ``target_path``.

    Raises ``RestoreRefused`` when the backup is not a completed backup, the target is of
    another type, or the restore would write over a datasource without ``confirm``.
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
    if target_path is not None:
        if target.type not in PATH_FIELDS:
            raise RestoreRefused(
                f"A target path applies to files and SQLite restores, not to {target.type}."
            )
        if not Path(target_path).is_absolute():
            raise RestoreRefused(f"The target path {target_path!r} must be absolute.")
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
    secret-free message and a ``restore_failed`` notification is recorded.
    """
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
    adapter: StorageAdapter = execution.storage_location.adapter(execution.storage_location.config)
    options = dict(execution.metadata.get("restore_options") or {})
    target_path = execution.metadata.get("target_path")
    config = dict(target.connection_config)
    if target_path:
        config[PATH_FIELDS[target.type]] = target_path
    temp_dir = Path(system_settings.get("system.temp_directory")) / f"restore-{execution.id}"
    started = time.monotonic()
    try:
        manifest = read_manifest(adapter, backup)
        chunks = expected_chunks(adapter, backup, manifest)
        total = sum(chunk.size for chunk in chunks)
        progress = RestoreProgress(execution, total)
        with heartbeat(execution.id):
            verify_chunks(adapter, chunks, manifest, progress)
            temp_dir.mkdir(parents=True, mode=0o700)
            with ChunkReader(adapter, chunks, progress) as raw:
                algorithm = str((manifest.get("compression") or {}).get("algorithm") or "none")
                stream = open_decompressed(raw, algorithm)
                result = target.engine().restore(config, options, stream, temp_dir, manifest)
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
            "source_manifest": f"{backup.backup_path}/{MANIFEST}",
            "checksum": manifest.get("sha256"),
            "seconds": round(time.monotonic() - started, 3),
        },
        progress={"phase": "done", "bytes_total": total, "bytes_done": total},
    )
    notify(
        NotificationType.RESTORE_COMPLETED,
        Severity.INFO,
        f"Restore into {target.name} completed",
        f"Backup {backup.id} restored ({total} stored bytes) in {execution.duration_seconds} s.",
        entity_type=EntityType.BACKUP_EXECUTION,
        entity_id=execution.id,
        metadata={"backup_id": str(backup.id), "job_id": str(execution.job_id)},
    )
    return True


def read_manifest(adapter: StorageAdapter, backup: BackupExecution) -> dict[str, Any]:
    path = f"{backup.backup_path}/{MANIFEST}"
    try:
        with adapter.open_read(path) as reader:
            manifest = json.loads(reader.read(READ_SIZE * 16))
    except StoragePathMissing as exc:
        raise RestoreError(
            f"The backup's {MANIFEST} is missing at {path}; it is not a complete backup."
        ) from exc
    except ValueError as exc:
        raise RestoreError(f"The backup's {MANIFEST} is not valid JSON: {exc}.") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("chunks"), list):
        raise RestoreError(f"The backup's {MANIFEST} lists no chunks.")
    return manifest


def expected_chunks(
    adapter: StorageAdapter, backup: BackupExecution, manifest: dict[str, Any]
) -> list[Chunk]:
    """The chunks as the manifest lists them, which ``SHA256SUMS`` and the database's chunk
    rows must agree with: a disagreement means one of them was altered."""
    directory = backup.backup_path
    chunks = [
        Chunk(int(c["number"]), f"{directory}/{c['name']}", int(c["size"]), str(c["sha256"]))
        for c in manifest["chunks"]
    ]
    if not chunks:
        raise RestoreError(f"The backup's {MANIFEST} lists no chunks.")
    try:
        with adapter.open_read(f"{directory}/{CHECKSUMS}") as reader:
            sums = reader.read(READ_SIZE * 16).decode()
    except StoragePathMissing as exc:
        raise RestoreError(f"The backup's {CHECKSUMS} is missing.") from exc
    listed = [tuple(line.split(None, 1)) for line in sums.splitlines() if line.strip()]
    expected = [(c.sha256, c.path.rsplit("/", 1)[-1]) for c in chunks]
    if listed != expected:
        raise RestoreError(f"The backup's {CHECKSUMS} does not match its {MANIFEST}.")
    rows = list(
        backup.chunks.order_by("chunk_number").values_list(
            "chunk_number", "file_path", "size_bytes", "checksum"
        )
    )
    if rows and [Chunk(*row) for row in rows] != chunks:
        raise RestoreError(f"The backup's chunk records do not match its {MANIFEST}.")
    return chunks


class RestoreProgress:
    """Writes phase and byte counts to the execution every ``PROGRESS_INTERVAL`` seconds,
    and notices a cancel there."""

    def __init__(self, execution: BackupExecution, total: int) -> None:
        self.execution = execution
        self.total = total
        self.phase = "verify"
        self.done = 0
        self._last = 0.0

    def start(self, phase: str) -> None:
        self.phase, self.done, self._last = phase, 0, 0.0
        self.add(0)

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        status = (
            BackupExecution.objects.filter(pk=self.execution.pk)
            .values_list("status", flat=True)
            .first()
        )
        if status == BackupExecution.Status.CANCELLED:
            raise RestoreCancelled("The restore was cancelled.")
        BackupExecution.objects.filter(pk=self.execution.pk).update(
            heartbeat_at=timezone.now(),
            progress={"phase": self.phase, "bytes_total": self.total, "bytes_done": self.done},
        )


def _open_chunk(adapter: StorageAdapter, chunk: Chunk, stack: ExitStack) -> BinaryIO:
    try:
        return stack.enter_context(adapter.open_read(chunk.path))
    except StoragePathMissing as exc:
        raise RestoreError(
            f"Chunk {chunk.number} ({chunk.path}) is missing from the storage location."
        ) from exc


def verify_chunks(
    adapter: StorageAdapter,
    chunks: list[Chunk],
    manifest: dict[str, Any],
    progress: RestoreProgress,
) -> None:
    """First pass: every chunk present, of its recorded size and SHA-256, and the whole
    artifact of the manifest's SHA-256. Streams; holds one read in memory."""
    progress.start("verify")
    whole = hashlib.sha256()
    for chunk in chunks:
        digest = hashlib.sha256()
        size = 0
        with ExitStack() as stack:
            reader = _open_chunk(adapter, chunk, stack)
            while data := reader.read(READ_SIZE):
                digest.update(data)
                whole.update(data)
                size += len(data)
                progress.add(len(data))
        if size != chunk.size or digest.hexdigest() != chunk.sha256:
            raise RestoreError(
                f"Chunk {chunk.number} ({chunk.path}) is corrupt: its SHA-256 or size does not "
                "match the manifest. Nothing was restored."
            )
    if manifest.get("sha256") and whole.hexdigest() != manifest["sha256"]:
        raise RestoreError("The artifact's SHA-256 does not match the manifest.")


class ChunkReader:
    """Second pass: the chunks read in order as one stream, each hashed again. A chunk whose
    bytes differ from the verified ones raises before its last byte is handed on."""

    def __init__(
        self, adapter: StorageAdapter, chunks: list[Chunk], progress: RestoreProgress
    ) -> None:
        self._adapter = adapter
        self._chunks = chunks
        self._progress = progress
        self._stack = ExitStack()
        self._index = -1
        self._reader: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._size = 0

    def __enter__(self) -> ChunkReader:
        self._progress.start("restore")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _next(self) -> bool:
        self._stack.close()
        self._index += 1
        if self._index >= len(self._chunks):
            self._reader = None
            return False
        self._reader = _open_chunk(self._adapter, self._chunks[self._index], self._stack)
        self._digest, self._size = hashlib.sha256(), 0
        return True

    def _end_of_chunk(self) -> None:
        chunk = self._chunks[self._index]
        if self._size != chunk.size or self._digest.hexdigest() != chunk.sha256:
            raise RestoreError(
                f"Chunk {chunk.number} ({chunk.path}) changed after it was verified; the "
                "restore was stopped."
            )

    def read(self, size: int = -1, /) -> bytes:
        want = READ_SIZE if size is None or size < 0 else size
        while True:
            if self._reader is None and not self._next():
                return b""
            assert self._reader is not None
            data = self._reader.read(want)
            if data:
                self._digest.update(data)
                self._size += len(data)
                self._progress.add(len(data))
                # The last piece of a chunk is handed on only once the chunk proved intact.
                if self._size >= self._chunks[self._index].size:
                    self._end_of_chunk()
                return data
            self._end_of_chunk()
            self._reader = None

    def check_complete(self) -> None:
        """The engine may stop reading before the end; the rest must still be intact."""
        while self.read(READ_SIZE):
            pass


def _failed(execution: BackupExecution, exc: Exception) -> bool:
    if isinstance(exc, RestoreCancelled):
        logger.info("Restore %s cancelled", execution.id)
        return False
    message, stack = failure_text(
        exc, secrets_of(execution), (EngineError, StorageError, RestoreError)
    )
    logger.warning("Restore %s failed: %s", execution.id, message)
    execution.fail(message, stack)
    notify(
        NotificationType.RESTORE_FAILED,
        Severity.CRITICAL,
        f"Restore into {execution.datasource.name} failed",
        message,
        entity_type=EntityType.BACKUP_EXECUTION,
        entity_id=execution.id,
        metadata={
            "backup_id": str(execution.source_execution_id),
            "job_id": str(execution.job_id),
        },
    )
    return False
