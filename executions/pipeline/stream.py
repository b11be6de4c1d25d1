"""The streaming backup pipeline: source -> compressor -> hashes and counters -> chunks.

Memory stays bounded by one ``read_size`` piece plus the compressor's own buffers, whatever the
size of the backup: nothing is accumulated.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from executions.pipeline.compression import Compressor
    from storage.adapters.base import StorageWriter

__all__ = [
    "ChunkInfo",
    "PipelineResult",
    "Progress",
    "Source",
    "run_pipeline",
]

READ_SIZE = 1024 * 1024


class Source(Protocol):
    """A ``BackupStream`` or any binary reader: ``read(n)`` returns ``b""`` at the end."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Progress:
    phase: str  # "running", then "done" on the final call
    raw_bytes: int
    compressed_bytes: int
    rate: float  # raw bytes per second since the start
    chunk: int  # number of the chunk being written (the last one on the final call)


@dataclass(frozen=True)
class ChunkInfo:
    number: int
    name: str
    size: int
    sha256: str


@dataclass
class PipelineResult:
    raw_bytes: int
    compressed_bytes: int
    sha256: str  # of the whole artifact: every chunk, concatenated in order
    chunks: list[ChunkInfo] = field(default_factory=list)


def _default_name(number: int) -> str:
    return f"part{number:03d}"


def run_pipeline(
    source: Source,
    compressor: Compressor,
    open_chunk: Callable[[int], AbstractContextManager[StorageWriter]],
    max_chunk_bytes: int | None,
    read_size: int = READ_SIZE,
    progress: Callable[[Progress], None] | None = None,
    progress_interval: float = 2.0,
    chunk_name: Callable[[int], str] = _default_name,
) -> PipelineResult:
    """Read ``source`` to its end, compress it and write it in chunks of exactly
    ``max_chunk_bytes`` compressed bytes (the last one may be shorter; ``None``: one chunk).

    Each chunk is written inside its own ``with open_chunk(number) as writer:`` so it is
    published only once complete; an exception anywhere aborts the chunk in progress and
    propagates (stopping the source's tool is the caller's business). ``chunk_name`` gives the
    name recorded in each ``ChunkInfo`` (see ``executions.artifact.artifact_names``).
    ``progress`` is called at most every ``progress_interval`` seconds and once at the end.
    """
    if max_chunk_bytes is not None and max_chunk_bytes <= 0:
        raise ValueError("max_chunk_bytes must be positive.")
    if read_size <= 0:
        raise ValueError("read_size must be positive.")
    limit = sys.maxsize if max_chunk_bytes is None else max_chunk_bytes
    raw_bytes = 0
    compress = compressor.compress
    read = source.read

    def pieces() -> Iterator[bytes]:
        nonlocal raw_bytes
        while data := read(read_size):
            raw_bytes += len(data)
            if out := compress(data):
                yield out
        if tail := compressor.flush():
            yield tail

    produce = pieces()
    # Unchunked, the artifact is its single chunk: hashing every byte a second time for the
    # same digest would cost a few percent of the run on a fast disk.
    whole = hashlib.sha256() if max_chunk_bytes is not None else None
    chunks: list[ChunkInfo] = []
    compressed_bytes = 0
    started = time.monotonic()
    next_report = started + progress_interval
    number = 0
    piece: bytes | None = next(produce, None)
    offset = 0  # bytes of ``piece`` already written

    while True:
        number += 1
        digest = hashlib.sha256()
        size = 0
        with open_chunk(number) as writer:
            write = writer.write
            while piece is not None:
                room = limit - size
                available = len(piece) - offset
                if available <= room:
                    data = piece if offset == 0 else piece[offset:]
                    offset = len(piece)
                else:
                    data = piece[offset : offset + room]
                    offset += room
                write(data)
                digest.update(data)
                if whole is not None:
                    whole.update(data)
                size += len(data)
                compressed_bytes += len(data)
                if progress is not None and time.monotonic() >= next_report:
                    now = time.monotonic()
                    rate = raw_bytes / max(now - started, 1e-9)
                    progress(Progress("running", raw_bytes, compressed_bytes, rate, number))
                    next_report = now + progress_interval
                if size >= limit:
                    break  # full: publish it before reading on
                piece = next(produce, None)
                offset = 0
        chunks.append(ChunkInfo(number, chunk_name(number), size, digest.hexdigest()))
        if piece is not None and offset >= len(piece):
            piece = next(produce, None)
            offset = 0
        if piece is None:
            break

    if progress is not None:
        elapsed = max(time.monotonic() - started, 1e-9)
        progress(Progress("done", raw_bytes, compressed_bytes, raw_bytes / elapsed, number))
    sha256 = whole.hexdigest() if whole is not None else chunks[0].sha256
    return PipelineResult(raw_bytes, compressed_bytes, sha256, chunks)
