"""The streaming pipeline, end to end into real files, checked with the real CLI tools."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest

from executions.artifact import artifact_names
from executions.pipeline.compression import make_compressor, open_decompressed
from executions.pipeline.stream import Progress, run_pipeline

CLI = {"gzip": "gzip", "zstd": "zstd", "lz4": "lz4"}
ALL = ["gzip", "zstd", "lz4", "none"]
MiB = 1024 * 1024


# --- A real file sink that honours the StorageWriter contract ------------------------------


class FileWriter:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.bytes_written = 0

    def write(self, data: bytes, /) -> int:
        written = self._handle.write(data)
        self.bytes_written += written
        return written


@contextmanager
def open_file_write(path: Path) -> Iterator[FileWriter]:
    """Write under a temporary name; rename on a clean exit, unlink on an exception."""
    temporary = path.with_name(f".{path.name}.tmp")
    handle = temporary.open("wb")
    try:
        yield FileWriter(handle)
    except BaseException:
        handle.close()
        temporary.unlink()
        raise
    handle.close()
    os.replace(temporary, path)


class DiscardWriter:
    bytes_written = 0

    def write(self, data: bytes, /) -> int:
        self.bytes_written += len(data)
        return len(data)


@contextmanager
def open_discard(number: int) -> Iterator[DiscardWriter]:
    yield DiscardWriter()


# --- Sources --------------------------------------------------------------------------------


def mixed_data(size: int, seed: int = 7) -> bytes:
    """Random bytes mixed with repeated text: compressible, but not trivially."""
    rng = random.Random(seed)
    text = b"INSERT INTO events (id, kind, payload) VALUES (42, 'login', '{\"ok\": true}');\n"
    parts = []
    total = 0
    while total < size:
        part = rng.randbytes(rng.randint(1, 64 * 1024))
        if rng.random() < 0.5:
            part = text * rng.randint(1, 2000)
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


class BytesSource:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._data) if size < 0 else self._offset + size
        piece = bytes(self._data[self._offset : end])
        self._offset += len(piece)
        return piece


class FailingSource(BytesSource):
    def __init__(self, data: bytes, fail_after: int) -> None:
        super().__init__(data)
        self._fail_after = fail_after

    def read(self, size: int = -1, /) -> bytes:
        if self._offset >= self._fail_after:
            raise OSError("pg_dump died")
        return super().read(size)


class LazySource:
    """``total`` bytes made on the fly from a few pre-made blocks; never held whole."""

    def __init__(self, total: int) -> None:
        self._blocks = [mixed_data(MiB, seed) for seed in range(4)]
        self._left = total
        self._count = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        block = self._blocks[self._count % len(self._blocks)]
        self._count += 1
        piece = block[: min(size, MiB, self._left)]
        self._left -= len(piece)
        return piece


class ChainReader:
    """The chunk files read in order as one stream."""

    def __init__(self, paths: list[Path]) -> None:
        self._handles = [path.open("rb") for path in paths]

    def read(self, size: int = -1, /) -> bytes:
        while self._handles:
            data = self._handles[0].read(size)
            if data:
                return data
            self._handles.pop(0).close()
        return b""


# --- Helpers --------------------------------------------------------------------------------


def run_into(tmp_path: Path, data: bytes, compression: str, max_chunk: int | None, **kwargs):
    compressor = make_compressor(compression, kwargs.pop("level", None))
    names = artifact_names("dump", compressor.extension, chunked=max_chunk is not None)
    result = run_pipeline(
        BytesSource(data),
        compressor,
        lambda number: open_file_write(tmp_path / names(number)),
        max_chunk,
        chunk_name=names,
        **kwargs,
    )
    return result, [tmp_path / chunk.name for chunk in result.chunks]


def cat_into(paths: list[Path], command: list[str]) -> bytes:
    with subprocess.Popen(["cat", *map(str, paths)], stdout=subprocess.PIPE) as cat:
        done = subprocess.run(command, stdin=cat.stdout, capture_output=True, check=True)
    assert cat.returncode == 0
    return done.stdout


def decompress_with_cli(paths: list[Path], compression: str) -> bytes:
    if compression == "none":
        return cat_into(paths, ["cat"])
    return cat_into(paths, [CLI[compression], "-dc"])


def decompress_with_reader(paths: list[Path], compression: str, size: int = 100_000) -> bytes:
    reader = open_decompressed(ChainReader(paths), compression)
    parts = []
    while data := reader.read(size):
        assert len(data) <= size
        parts.append(data)
    return b"".join(parts)


def sha256sum(paths: list[Path]) -> str:
    return cat_into(paths, ["sha256sum"]).split()[0].decode()


@pytest.fixture(scope="module")
def source_data() -> bytes:
    return mixed_data(20 * MiB)


# --- Round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ALL)
def test_a_chunked_backup_decompresses_with_the_cli_tool_to_the_source_bytes(
    tmp_path, source_data, compression
):
    max_chunk = 3_000_017
    result, paths = run_into(tmp_path, source_data, compression, max_chunk)

    assert len(paths) > 1
    suffix = {"gzip": ".gz", "zstd": ".zst", "lz4": ".lz4", "none": ""}[compression]
    assert [p.name for p in paths][:2] == [
        f"backup.dump{suffix}.part001",
        f"backup.dump{suffix}.part002",
    ]
    assert decompress_with_cli(paths, compression) == source_data
    assert result.raw_bytes == len(source_data)
    assert result.compressed_bytes == sum(p.stat().st_size for p in paths)


@pytest.mark.parametrize("compression", ALL)
def test_a_chunked_backup_decompresses_with_open_decompressed(tmp_path, source_data, compression):
    _, paths = run_into(tmp_path, source_data, compression, 2_500_001)

    assert decompress_with_reader(paths, compression) == source_data


@pytest.mark.parametrize("compression", ALL)
def test_chunk_hashes_and_the_whole_hash_match_sha256sum(tmp_path, source_data, compression):
    result, paths = run_into(tmp_path, source_data, compression, 3 * MiB)

    for chunk, path in zip(result.chunks, paths, strict=True):
        assert chunk.sha256 == sha256sum([path])
        assert chunk.size == path.stat().st_size
    assert result.sha256 == sha256sum(paths)
    assert [chunk.number for chunk in result.chunks] == list(range(1, len(paths) + 1))


@pytest.mark.parametrize("compression", ALL)
def test_every_chunk_but_the_last_is_exactly_max_chunk_bytes(tmp_path, source_data, compression):
    max_chunk = 1_234_567
    result, paths = run_into(tmp_path, source_data, compression, max_chunk)

    sizes = [path.stat().st_size for path in paths]
    assert sizes[:-1] == [max_chunk] * (len(sizes) - 1)
    assert 0 < sizes[-1] <= max_chunk
    assert sizes == [chunk.size for chunk in result.chunks]


def test_chunks_smaller_than_a_compressed_piece_split_it_exactly(tmp_path):
    data = mixed_data(300_000)
    result, paths = run_into(tmp_path, data, "none", 1000, read_size=64 * 1024)

    assert len(paths) == 300
    assert all(path.stat().st_size == 1000 for path in paths)
    assert decompress_with_cli(paths, "none") == data
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_output_that_ends_on_a_chunk_boundary_makes_no_empty_last_chunk(tmp_path):
    data = mixed_data(4000)
    _, paths = run_into(tmp_path, data, "none", 1000, read_size=1000)

    assert [path.stat().st_size for path in paths] == [1000] * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]


@pytest.mark.parametrize("compression", ALL)
def test_an_unchunked_backup_is_one_file_named_without_a_part_suffix(
    tmp_path, source_data, compression
):
    result, paths = run_into(tmp_path, source_data[: 2 * MiB], compression, None)

    suffix = {"gzip": ".gz", "zstd": ".zst", "lz4": ".lz4", "none": ""}[compression]
    assert [p.name for p in tmp_path.iterdir()] == [f"backup.dump{suffix}"]
    assert len(result.chunks) == 1
    assert decompress_with_cli(paths, compression) == source_data[: 2 * MiB]


@pytest.mark.parametrize("compression", ALL)
def test_an_empty_source_still_makes_one_valid_artifact(tmp_path, compression):
    result, paths = run_into(tmp_path, b"", compression, 1000)

    assert len(paths) == 1
    assert paths[0].exists()
    assert result.raw_bytes == 0
    assert decompress_with_cli(paths, compression) == b""
    assert decompress_with_reader(paths, compression) == b""


# --- Failure --------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ALL)
def test_a_source_failing_mid_way_propagates_and_leaves_no_chunk_in_progress(
    tmp_path, source_data, compression
):
    compressor = make_compressor(compression, threads=1)
    names = artifact_names("dump", compressor.extension, chunked=True)
    opened: list[int] = []

    def open_chunk(number: int):
        opened.append(number)
        return open_file_write(tmp_path / names(number))

    with pytest.raises(OSError, match="pg_dump died"):
        run_pipeline(
            FailingSource(source_data, fail_after=12 * MiB), compressor, open_chunk, 1_000_000
        )

    published = sorted(p.name for p in tmp_path.iterdir())
    assert all(not name.endswith(".tmp") for name in published)
    assert len(opened) > 1
    assert names(opened[-1]) not in published
    assert published == [names(n) for n in opened[:-1]]
    assert all((tmp_path / name).stat().st_size == 1_000_000 for name in published)


def test_a_writer_failing_aborts_its_chunk_and_propagates(tmp_path, source_data):
    class BrokenWriter(FileWriter):
        def write(self, data: bytes, /) -> int:
            if self.bytes_written > 500_000:
                raise OSError("disk full")
            return super().write(data)

    @contextmanager
    def open_chunk(number: int):
        with open_file_write(tmp_path / f"part{number}") as writer:
            yield BrokenWriter(writer._handle)

    with pytest.raises(OSError, match="disk full"):
        run_pipeline(BytesSource(source_data), make_compressor("zstd"), open_chunk, None)

    assert list(tmp_path.iterdir()) == []


# --- zstd integrity -------------------------------------------------------------------------


def test_zstd_frames_carry_the_content_checksum(tmp_path, source_data):
    _, paths = run_into(tmp_path, source_data[: 4 * MiB], "zstd", None)
    header = paths[0].read_bytes()[:5]

    assert header[:4] == b"\x28\xb5\x2f\xfd"
    assert header[4] & 0x04  # Frame_Header_Descriptor: Content_Checksum_flag
    listing = subprocess.run(
        ["zstd", "-lv", str(paths[0])], capture_output=True, text=True, check=True
    ).stdout
    assert "XXH64" in listing


def test_a_corrupted_byte_makes_zstd_test_fail(tmp_path, source_data):
    _, paths = run_into(tmp_path, source_data[: 4 * MiB], "zstd", None)
    subprocess.run(["zstd", "-tq", str(paths[0])], check=True)
    content = bytearray(paths[0].read_bytes())
    content[len(content) // 2] ^= 0x01
    paths[0].write_bytes(bytes(content))

    assert subprocess.run(["zstd", "-tq", str(paths[0])], capture_output=True).returncode != 0


def test_zstd_with_every_core_writes_a_standard_stream(tmp_path, source_data):
    compressor = make_compressor("zstd", threads=0)
    target = tmp_path / "backup.dump.zst"
    run_pipeline(BytesSource(source_data), compressor, lambda n: open_file_write(target), None)

    assert decompress_with_cli([target], "zstd") == source_data


# --- Levels and progress --------------------------------------------------------------------


@pytest.mark.parametrize(("compression", "low", "high"), [("zstd", 1, 19), ("gzip", 1, 9)])
def test_a_higher_compression_level_makes_smaller_output(compression, low, high):
    rng = random.Random(3)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
    data = b" ".join(rng.choice(words) for _ in range(400_000))

    sizes = []
    for level in (low, high):
        result = run_pipeline(
            BytesSource(data), make_compressor(compression, level), open_discard, None
        )
        sizes.append(result.compressed_bytes)

    assert sizes[1] < sizes[0]


def test_lz4_high_compression_level_makes_smaller_output():
    data = mixed_data(2 * MiB)
    sizes = []
    for level in (0, 12):
        compressor = make_compressor("lz4", level)
        result = run_pipeline(BytesSource(data), compressor, open_discard, None)
        sizes.append(result.compressed_bytes)

    assert sizes[1] < sizes[0]


def test_progress_reports_increasing_raw_bytes_and_a_final_call(source_data):
    calls: list[Progress] = []
    result = run_pipeline(
        BytesSource(source_data),
        make_compressor("lz4"),
        open_discard,
        3 * MiB,
        progress=calls.append,
        progress_interval=0,
    )

    assert len(calls) > 5
    raw = [call.raw_bytes for call in calls]
    assert raw == sorted(raw)
    assert raw[0] < raw[-1]
    assert calls[-1].phase == "done"
    assert all(call.phase == "running" for call in calls[:-1])
    assert calls[-1].raw_bytes == result.raw_bytes == len(source_data)
    assert calls[-1].compressed_bytes == result.compressed_bytes
    assert calls[-1].chunk == len(result.chunks)
    assert all(call.rate > 0 for call in calls)


def test_progress_is_throttled_to_the_interval(source_data):
    calls: list[Progress] = []
    run_pipeline(
        BytesSource(source_data), make_compressor("zstd"), open_discard, None,
        progress=calls.append, progress_interval=3600,
    )  # fmt: skip

    assert [call.phase for call in calls] == ["done"]


# --- Memory ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("compression", ALL)
def test_memory_stays_bounded_through_a_200_mb_backup(compression):
    source = LazySource(200 * MiB)
    level = 1 if compression == "gzip" else None
    compressor = make_compressor(compression, level)
    tracemalloc.start()
    try:
        result = run_pipeline(source, compressor, open_discard, 7 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.raw_bytes == 200 * MiB
    assert peak < 32 * MiB


# --- Names ----------------------------------------------------------------------------------


def test_artifact_names_follow_the_documented_pattern():
    assert artifact_names("dump", "zst", chunked=False)(1) == "backup.dump.zst"
    chunked = artifact_names("dump", "zst", chunked=True)
    assert [chunked(n) for n in (1, 2, 12)] == [
        "backup.dump.zst.part001",
        "backup.dump.zst.part002",
        "backup.dump.zst.part012",
    ]
    assert artifact_names("tar", "", chunked=False)(1) == "backup.tar"
    with pytest.raises(ValueError, match="single chunk"):
        artifact_names("dump", "gz", chunked=False)(2)
