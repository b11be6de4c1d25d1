"""The stored layout of a backup, in one place: where it lives, what its files are called,
what ``manifest.json`` and ``SHA256SUMS`` hold, and how its chunks are read back and checked.

An artifact is a directory ``<datasource>/<job>/<timestamp>-<execution>`` under the storage
root holding the chunks (``backup.dump.zst``, or ``backup.dump.zst.part001``, ``.part002`` ...),
``SHA256SUMS`` in sha256sum's own format and ``manifest.json``, written last. Backup writes
it; restore, verification, cleanup, the scheduler and the API read or name it through this
module. docs/RESTORE.md shows how to use it without DataGuardian.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from django.utils import timezone

from storage.adapters.base import StorageAdapter, StoragePathMissing

if TYPE_CHECKING:
    from executions.models import BackupExecution
    from executions.pipeline.stream import ChunkInfo, PipelineResult

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
MANIFEST_VERSION = 1
READ_SIZE = 1024 * 1024
# The manifest and SHA256SUMS are small; anything bigger than this is not one of ours.
INDEX_READ_LIMIT = READ_SIZE * 16


class ArtifactError(Exception):
    """The artifact cannot be read back: a missing or corrupt chunk, a bad manifest."""


@dataclass(frozen=True)
class Chunk:
    number: int
    path: str  # relative to the storage root
    size: int
    sha256: str


class ReadProgress(Protocol):
    """Told how many bytes were read, phase by phase (restore and verification record it)."""

    def start(self, phase: str) -> None: ...

    def add(self, count: int) -> None: ...


# --- Names ----------------------------------------------------------------------------------


def artifact_directory(execution: BackupExecution) -> str:
    """``<datasource>/<job>/<timestamp>-<execution>``, relative to the storage root. Ids, not
    names, so renaming a job never splits or merges its backups."""
    started = execution.started_at or timezone.now()
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{execution.datasource_id}/{execution.job_id}/{stamp}-{execution.id}"


def artifact_names(
    extension: str, compression_ext: str, chunked: bool, stem: str = "backup"
) -> Callable[[int], str]:
    """The names of an artifact's chunks by number: ``backup.dump.zst`` when unchunked,
    ``backup.dump.zst.part001``, ``.part002`` ... when chunked. ``extension`` is the engine's
    ``artifact_extension(options)``, the one source of the artifact's format name."""
    base = ".".join(part for part in (stem, extension, compression_ext) if part)
    if not chunked:

        def single(number: int) -> str:
            if number != 1:
                raise ValueError("An unchunked artifact has a single chunk.")
            return base

        return single

    def part(number: int) -> str:
        return f"{base}.part{number:03d}"

    return part


# --- Writing the index ----------------------------------------------------------------------


def build_manifest(
    execution: BackupExecution,
    options: dict[str, Any],
    result: PipelineResult,
    engine_metadata: dict[str, Any],
    extension: str,
    compression_ext: str,
    restore_facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``manifest.json`` of a finished backup: engine, versions, options, sizes, checksums;
    ``restore_facts`` are the engine's own (``BackupResult.restore_facts``)."""
    job, ds = execution.job, execution.datasource
    return {
        "format_version": MANIFEST_VERSION,
        "tool": "DataGuardian",
        "execution_id": str(execution.id),
        "job": {"id": str(job.id), "name": job.name},
        "datasource": {"id": str(ds.id), "name": ds.name, "type": ds.type},
        "engine": {
            "type": ds.type,
            "artifact_format": extension,
            "database_version": engine_metadata.get("database_version"),
            "tool_version": engine_metadata.get("tool_version"),
            **(restore_facts or {}),
        },
        "options": options,
        "compression": {
            "algorithm": options.get("compression", "none"),
            "level": options.get("compression_level"),
            "extension": compression_ext,
        },
        "size_bytes": result.raw_bytes,
        "compressed_size_bytes": result.compressed_bytes,
        "sha256": result.sha256,
        "chunks": [asdict(chunk) for chunk in result.chunks],
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "created_at": timezone.now().isoformat(),
    }


def write_index(
    adapter: StorageAdapter,
    directory: str,
    chunks: Sequence[ChunkInfo],
    manifest: dict[str, Any],
) -> str:
    """Write ``SHA256SUMS``, then ``manifest.json``: the manifest last, so an artifact is
    complete exactly when its manifest exists. Returns the manifest's SHA-256, which the
    execution records (``metadata.manifest_sha256``) so that an altered manifest is refused."""
    # sha256sum's own format, chunks in order: `sha256sum -c SHA256SUMS` verifies them and
    # `awk '{print $2}' SHA256SUMS | xargs cat` joins them, without DataGuardian.
    sums = "".join(f"{chunk.sha256}  {chunk.name}\n" for chunk in chunks)
    with adapter.open_write(f"{directory}/{CHECKSUMS}") as writer:
        writer.write(sums.encode())
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    with adapter.open_write(f"{directory}/{MANIFEST}") as writer:
        writer.write(data)
    return hashlib.sha256(data).hexdigest()


# --- Reading it back ------------------------------------------------------------------------


def manifest_path(backup: BackupExecution) -> str:
    return f"{backup.backup_path}/{MANIFEST}"


def read_manifest(adapter: StorageAdapter, backup: BackupExecution) -> dict[str, Any]:
    path = manifest_path(backup)
    try:
        with adapter.open_read(path) as reader:
            data = reader.read(INDEX_READ_LIMIT)
        manifest = json.loads(data)
    except StoragePathMissing as exc:
        raise ArtifactError(
            f"The backup's {MANIFEST} is missing at {path}; it is not a complete backup."
        ) from exc
    except ValueError as exc:
        raise ArtifactError(f"The backup's {MANIFEST} is not valid JSON: {exc}.") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("chunks"), list):
        raise ArtifactError(f"The backup's {MANIFEST} lists no chunks.")
    recorded = (backup.metadata or {}).get("manifest_sha256")
    if recorded and hashlib.sha256(data).hexdigest() != recorded:
        raise ArtifactError(
            f"The backup's {MANIFEST} was altered: its SHA-256 is not the one recorded when "
            "the backup was made. Nothing was restored."
        )
    return manifest


def compression_of(manifest: dict[str, Any]) -> str:
    """The algorithm the artifact was compressed with (``none`` when the manifest says none)."""
    return str((manifest.get("compression") or {}).get("algorithm") or "none")


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
        raise ArtifactError(f"The backup's {MANIFEST} lists no chunks.")
    try:
        with adapter.open_read(f"{directory}/{CHECKSUMS}") as reader:
            sums = reader.read(INDEX_READ_LIMIT).decode()
    except StoragePathMissing as exc:
        raise ArtifactError(f"The backup's {CHECKSUMS} is missing.") from exc
    listed = [tuple(line.split(None, 1)) for line in sums.splitlines() if line.strip()]
    expected = [(c.sha256, c.path.rsplit("/", 1)[-1]) for c in chunks]
    if listed != expected:
        raise ArtifactError(f"The backup's {CHECKSUMS} does not match its {MANIFEST}.")
    rows = list(
        backup.chunks.order_by("chunk_number").values_list(
            "chunk_number", "file_path", "size_bytes", "checksum"
        )
    )
    if rows and [Chunk(*row) for row in rows] != chunks:
        raise ArtifactError(f"The backup's chunk records do not match its {MANIFEST}.")
    return chunks


def _open_chunk(adapter: StorageAdapter, chunk: Chunk, stack: ExitStack) -> BinaryIO:
    try:
        return stack.enter_context(adapter.open_read(chunk.path))
    except StoragePathMissing as exc:
        raise ArtifactError(
            f"Chunk {chunk.number} ({chunk.path}) is missing from the storage location."
        ) from exc


def verify_chunks(
    adapter: StorageAdapter,
    chunks: list[Chunk],
    manifest: dict[str, Any],
    progress: ReadProgress,
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
            raise ArtifactError(
                f"Chunk {chunk.number} ({chunk.path}) is corrupt: its SHA-256 or size does not "
                "match the manifest. Nothing was restored."
            )
    if manifest.get("sha256") and whole.hexdigest() != manifest["sha256"]:
        raise ArtifactError("The artifact's SHA-256 does not match the manifest.")


class ChunkReader:
    """Second pass: the chunks read in order as one stream, each hashed again. A chunk whose
    bytes differ from the verified ones raises before its last byte is handed on."""

    def __init__(
        self, adapter: StorageAdapter, chunks: list[Chunk], progress: ReadProgress
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
            raise ArtifactError(
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
