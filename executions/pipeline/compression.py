"""Streaming compressors and decompressors for backup artifacts.

Every compressor writes the tool's standard format, so ``gzip -d``, ``zstd -d`` and ``lz4 -d``
restore an artifact without DataGuardian.
"""

from __future__ import annotations

import zlib
from typing import IO, Any, Protocol, cast

import lz4.frame
import zstandard

__all__ = [
    "EXTENSIONS",
    "Compressor",
    "Decompressed",
    "GzipCompressor",
    "Lz4Compressor",
    "NoCompressor",
    "Readable",
    "ZstdCompressor",
    "make_compressor",
    "open_decompressed",
]

EXTENSIONS = {"gzip": "gz", "zstd": "zst", "lz4": "lz4", "none": ""}

# Compressed input handed to a decompressor in one go by the streaming readers.
_INPUT_SIZE = 256 * 1024


class Compressor(Protocol):
    """A streaming compressor: ``compress`` returns whatever output is ready (often ``b""``),
    ``flush`` ends the stream and returns the rest. ``extension`` is the file suffix without a
    dot, ``""`` for no compression."""

    extension: str

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


class GzipCompressor:
    extension = "gz"

    def __init__(self, level: int | None = None) -> None:
        self._obj = zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)

    def compress(self, data: bytes, /) -> bytes:
        return self._obj.compress(data)

    def flush(self) -> bytes:
        return self._obj.flush(zlib.Z_FINISH)


class ZstdCompressor:
    """zstd with the frame checksum on. ``threads``: 1 compresses in the calling thread (the
    default: on a small host the database needs the other core), n > 1 uses n worker threads,
    0 one per core."""

    extension = "zst"

    def __init__(self, level: int | None = None, threads: int = 1) -> None:
        cctx = zstandard.ZstdCompressor(
            level=3 if level is None else level,
            # python-zstandard's threads=1 already means one *background* worker; 0 is inline.
            threads=0 if threads == 1 else (-1 if threads <= 0 else threads),
            write_checksum=True,
            write_content_size=False,
        )
        self._obj: Any = cctx.compressobj()

    def compress(self, data: bytes, /) -> bytes:
        out: bytes = self._obj.compress(data)
        return out

    def flush(self) -> bytes:
        out: bytes = self._obj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
        return out


class Lz4Compressor:
    """An LZ4 frame with the content checksum on."""

    extension = "lz4"

    def __init__(self, level: int | None = None) -> None:
        self._obj: Any = lz4.frame.LZ4FrameCompressor(
            compression_level=0 if level is None else level, content_checksum=True
        )
        self._started = False

    def _begin(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        header: bytes = self._obj.begin()
        return header

    def compress(self, data: bytes, /) -> bytes:
        header = self._begin()
        out: bytes = self._obj.compress(data)
        return header + out if header else out

    def flush(self) -> bytes:
        header = self._begin()
        out: bytes = self._obj.flush()
        return header + out if header else out


class NoCompressor:
    extension = ""

    def compress(self, data: bytes, /) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def make_compressor(name: str, level: int | None = None, threads: int = 1) -> Compressor:
    """The compressor for a job's ``backup_options`` (``compression``, ``compression_level``,
    ``compression_threads``)."""
    if name == "gzip":
        return GzipCompressor(level)
    if name == "zstd":
        return ZstdCompressor(level, threads)
    if name == "lz4":
        return Lz4Compressor(level)
    if name == "none":
        return NoCompressor()
    raise ValueError(f"Unknown compression {name!r}.")


# --- Decompression (restores) --------------------------------------------------------------


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Decompressed(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _ReadAll:
    """``read(-1)`` on top of a reader that answers bounded reads."""

    def read(self, size: int = -1, /) -> bytes:
        if size is not None and size >= 0:
            return self._read(size)
        parts = []
        while data := self._read(1024 * 1024):
            parts.append(data)
        return b"".join(parts)

    def _read(self, size: int) -> bytes:
        raise NotImplementedError


class _GzipReader(_ReadAll):
    """Decompresses gzip (several members too, as ``gzip -d`` does) in bounded steps."""

    def __init__(self, reader: Readable) -> None:
        self._reader = reader
        self._obj = zlib.decompressobj(31)
        self._pending = b""  # compressed input not yet given to the decompressor
        self._member_data = False  # the current member received input

    def _read(self, size: int) -> bytes:
        if size == 0:
            return b""
        while True:
            obj = self._obj
            if obj.eof:  # (zlib may leave the bytes past the member in both attributes)
                rest = obj.unused_data or self._reader.read(_INPUT_SIZE)
                if not rest:
                    return b""
                self._obj = zlib.decompressobj(31)
                self._member_data = False
                self._pending = rest
                continue
            if obj.unconsumed_tail:
                out = obj.decompress(obj.unconsumed_tail, size)
            else:
                data = self._pending or self._reader.read(_INPUT_SIZE)
                self._pending = b""
                if not data:
                    if self._member_data:
                        raise EOFError("The gzip stream is truncated.")
                    return b""
                self._member_data = True
                out = obj.decompress(data, size)
            if out:
                return out


class _Lz4Reader(_ReadAll):
    """Decompresses LZ4 frames (several in a row too) in bounded steps."""

    def __init__(self, reader: Readable) -> None:
        self._reader = reader
        self._obj: Any = lz4.frame.LZ4FrameDecompressor()
        self._started = False

    def _read(self, size: int) -> bytes:
        if size == 0:
            return b""
        while True:
            obj = self._obj
            if obj.eof:
                rest: bytes = obj.unused_data or self._reader.read(_INPUT_SIZE)
                if not rest:
                    return b""
                self._obj = obj = lz4.frame.LZ4FrameDecompressor()
                out: bytes = obj.decompress(rest, size)
            elif obj.needs_input:
                data = self._reader.read(_INPUT_SIZE)
                if not data:
                    if self._started:
                        raise EOFError("The lz4 stream is truncated.")
                    return b""
                out = obj.decompress(data, size)
            else:
                out = obj.decompress(b"", size)
            self._started = True
            if out:
                return out


_ZSTD_MAGIC = 0xFD2FB528
_FCS_SIZES = (0, 2, 4, 8)
_DICT_ID_SIZES = (0, 1, 2, 4)


class _ZstdFrameTracker:
    """Follows the frame and block headers of a zstd stream (no decompression) to tell
    whether it ends on a frame boundary: ``zstandard``'s readers end quietly on a truncated
    stream."""

    def __init__(self) -> None:
        self._state = "magic"
        self._need = 4  # header bytes to collect for the current state
        self._head = b""
        self._skip = 0  # bytes to pass over before the next header
        self._checksum = False

    @property
    def at_frame_end(self) -> bool:
        return self._state == "magic" and not self._head and self._skip == 0

    def feed(self, data: bytes) -> None:
        pos, size = 0, len(data)
        while pos < size:
            if self._skip:
                step = min(self._skip, size - pos)
                self._skip -= step
                pos += step
                continue
            take = data[pos : pos + self._need - len(self._head)]
            self._head += take
            pos += len(take)
            if len(self._head) < self._need:
                return
            head, self._head = self._head, b""
            self._advance(int.from_bytes(head, "little"))

    def _advance(self, value: int) -> None:
        if self._state == "magic":
            if value == _ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif value & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
                self._state, self._need = "skippable", 4
            else:
                raise ValueError("Not a zstd stream.")
        elif self._state == "skippable":
            self._state, self._need, self._skip = "magic", 4, value
        elif self._state == "descriptor":
            single_segment = value >> 5 & 1
            fcs = _FCS_SIZES[value >> 6] or single_segment
            self._checksum = bool(value >> 2 & 1)
            self._skip = (1 - single_segment) + _DICT_ID_SIZES[value & 3] + fcs
            self._state, self._need = "block", 3
        else:  # block header: last flag, type, size
            block_type, block_size = value >> 1 & 3, value >> 3
            self._skip = 1 if block_type == 1 else block_size
            if value & 1:
                self._skip += 4 if self._checksum else 0
                self._state, self._need = "magic", 4


class _TrackedReader:
    def __init__(self, reader: Readable, tracker: _ZstdFrameTracker) -> None:
        self._reader = reader
        self._tracker = tracker

    def read(self, size: int = -1, /) -> bytes:
        data = self._reader.read(size)
        self._tracker.feed(data)
        return data


class _ZstdReader(_ReadAll):
    """Decompresses zstd (several frames too) in bounded steps; a truncated stream raises."""

    def __init__(self, reader: Readable) -> None:
        self._tracker = _ZstdFrameTracker()
        self._stream = zstandard.ZstdDecompressor().stream_reader(
            cast("IO[bytes]", _TrackedReader(reader, self._tracker)),
            read_size=_INPUT_SIZE,
            read_across_frames=True,
        )

    def _read(self, size: int) -> bytes:
        out: bytes = self._stream.read(size)
        if not out and size and not self._tracker.at_frame_end:
            raise EOFError("The zstd stream is truncated.")
        return out


def open_decompressed(reader: Readable, name: str) -> Decompressed:
    """A streaming reader of the data compressed with ``name`` that ``reader`` yields."""
    if name == "gzip":
        return _GzipReader(reader)
    if name == "zstd":
        return _ZstdReader(reader)
    if name == "lz4":
        return _Lz4Reader(reader)
    if name == "none":
        return reader
    raise ValueError(f"Unknown compression {name!r}.")
