"""Downloading a backup's artifact: streamed from storage block by block, never held whole.

The API and the admin answer downloads with these responses: the artifact as one stream
(its chunks joined in order, which is the file a restore tool reads), one chunk on its own,
or the backup's ``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from django.http import StreamingHttpResponse

from executions.artifact import manifest_path
from executions.models import BackupChunk, BackupExecution

#: Bytes read from storage per step of a download.
DOWNLOAD_BLOCK = 1024 * 1024


class NothingToDownload(Exception):
    """The execution has no stored artifact: it is a restore, or not a completed backup."""


def downloadable_chunks(execution: BackupExecution) -> list[BackupChunk]:
    """The chunks of a completed backup, in order; ``NothingToDownload`` for anything else."""
    chunks = list(execution.chunks.order_by("chunk_number"))
    if (
        execution.kind != BackupExecution.Kind.BACKUP
        or execution.status != BackupExecution.Status.COMPLETED
        or not chunks
    ):
        raise NothingToDownload("Only a completed backup has an artifact to download.")
    return chunks


def stream_paths(execution: BackupExecution, paths: Iterable[str]) -> Iterator[bytes]:
    """The stored files at ``paths``, one after the other, ``DOWNLOAD_BLOCK`` bytes a step."""
    location = execution.storage_location
    adapter = location.adapter(location.config)
    for path in paths:
        with adapter.open_read(path) as source:
            while block := source.read(DOWNLOAD_BLOCK):
                yield block


def artifact_name(chunks: list[BackupChunk]) -> str:
    """``backup.dump.zst`` for ``…/backup.dump.zst`` or ``…/backup.dump.zst.part001``."""
    name = PurePosixPath(chunks[0].file_path).name
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.startswith("part") and suffix[4:].isdigit():
        return stem
    return name


def _attachment(
    execution: BackupExecution, paths: list[str], size: int | None, filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        stream_paths(execution, paths), content_type="application/octet-stream"
    )
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="{execution.id}-{filename}"'
    return response


def artifact_response(
    execution: BackupExecution, chunks: list[BackupChunk]
) -> StreamingHttpResponse:
    """The whole artifact as stored (compressed): every chunk, joined in order."""
    size = execution.compressed_size_bytes
    if size is None:
        size = sum(chunk.size_bytes for chunk in chunks)
    return _attachment(execution, [c.file_path for c in chunks], size, artifact_name(chunks))


def chunk_response(execution: BackupExecution, chunk: BackupChunk) -> StreamingHttpResponse:
    """One stored chunk, under its own file name."""
    name = PurePosixPath(chunk.file_path).name
    return _attachment(execution, [chunk.file_path], chunk.size_bytes, name)


def manifest_response(execution: BackupExecution) -> StreamingHttpResponse:
    """The backup's ``manifest.json`` as stored (its size is not recorded anywhere)."""
    path = manifest_path(execution)
    return _attachment(execution, [path], None, PurePosixPath(path).name)
