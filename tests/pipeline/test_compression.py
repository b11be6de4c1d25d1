"""Compressors and the streaming decompressors used by restores."""

from __future__ import annotations

import io
import os
import subprocess

import pytest

from executions.pipeline.compression import make_compressor, open_decompressed

COMPRESSED = ["gzip", "zstd", "lz4"]
DATA = os.urandom(300_000) + b"abc" * 100_000 + b"\0" * 3_000_000


def compress(name: str, data: bytes, level: int | None = None) -> bytes:
    compressor = make_compressor(name, level)
    return compressor.compress(data) + compressor.flush()


def read_all(reader, size: int = 65_536) -> bytes:
    parts = []
    while data := reader.read(size):
        assert len(data) <= size
        parts.append(data)
    return b"".join(parts)


@pytest.mark.parametrize("name", [*COMPRESSED, "none"])
def test_each_compressor_round_trips_through_open_decompressed(name):
    blob = compress(name, DATA)

    assert read_all(open_decompressed(io.BytesIO(blob), name)) == DATA
    assert open_decompressed(io.BytesIO(blob), name).read() == DATA


@pytest.mark.parametrize("name", COMPRESSED)
def test_each_compressor_writes_what_the_cli_tool_reads(name):
    blob = compress(name, DATA)

    done = subprocess.run([name, "-dc"], input=blob, capture_output=True, check=True)
    assert done.stdout == DATA


@pytest.mark.parametrize("name", COMPRESSED)
@pytest.mark.parametrize("cut", [1, 4, 7, 100, 5000, -3])
def test_a_truncated_stream_raises_instead_of_ending_quietly(name, cut):
    blob = compress(name, DATA)
    end = len(blob) - cut if cut > 0 else -cut
    reader = open_decompressed(io.BytesIO(blob[:end]), name)

    with pytest.raises(EOFError, match="truncated"):
        read_all(reader)


@pytest.mark.parametrize("name", COMPRESSED)
def test_concatenated_streams_decompress_as_one_like_the_cli_tools(name):
    blob = compress(name, DATA) + compress(name, b"second")

    assert read_all(open_decompressed(io.BytesIO(blob), name)) == DATA + b"second"


def test_a_zstd_skippable_frame_is_passed_over():
    skippable = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"12345"
    blob = skippable + compress("zstd", DATA)

    assert read_all(open_decompressed(io.BytesIO(blob), "zstd")) == DATA


def test_data_that_is_not_zstd_is_refused():
    with pytest.raises(ValueError, match="zstd"):
        read_all(open_decompressed(io.BytesIO(b"not zstd at all" * 100), "zstd"))


def test_extensions_name_the_standard_suffixes():
    assert [make_compressor(name).extension for name in [*COMPRESSED, "none"]] == [
        "gz",
        "zst",
        "lz4",
        "",
    ]


def test_an_unknown_compression_is_refused():
    with pytest.raises(ValueError, match="bzip2"):
        make_compressor("bzip2")
    with pytest.raises(ValueError, match="bzip2"):
        open_decompressed(io.BytesIO(b""), "bzip2")
