"""Files backups are streamed tar archives that the real ``tar`` extracts to the same tree.

Real files in ``tmp_path``. Unreadable entries are made real by running the backup with the
effective uid of ``nobody`` (the tests run as root, for whom permissions never block reads).
"""

from __future__ import annotations

import hashlib
import io
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from datasources.engines.base import EngineError
from datasources.engines.files import FilesEngine

MTIME = 1_700_000_000
BIG = 5 * 1024 * 1024


def _config(source: Path, include=(), exclude=()) -> dict[str, Any]:
    return {
        "source_path": str(source),
        "include_patterns": list(include),
        "exclude_patterns": list(exclude),
    }


def _backup(config: dict[str, Any], temp_dir: Path, out: Path | None = None):
    sink = io.BytesIO()
    with FilesEngine().backup(config, {}, temp_dir) as stream:
        if out is None:
            while chunk := stream.read(256 * 1024):
                sink.write(chunk)
        else:
            with out.open("wb") as f:
                while chunk := stream.read(256 * 1024):
                    f.write(chunk)
        result = stream.finish()
    return result, sink.getvalue()


def _write(path: Path, data: bytes, mode: int = 0o644, mtime: int = MTIME) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (mtime, mtime))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    _write(src / "readme.txt", b"hello\n")
    _write(src / "empty", b"", mode=0o600)
    _write(src / "run.sh", b"#!/bin/sh\necho hi\n", mode=0o755, mtime=MTIME + 7)
    _write(src / "big.bin", os.urandom(BIG), mtime=MTIME + 11)
    _write(src / "dir1" / "dir2" / "deep.txt", b"deep\n" * 1000, mode=0o640)
    _write(src / "dir1" / "photo.jpg", b"\xff\xd8jpeg")
    _write(src / "img" / "p.jpg", b"\xff\xd8another")
    _write(src / "app.log", b"log line\n")
    _write(src / "dir1" / "dir2" / "trace.log", b"trace\n")
    _write(src / "temp" / "scratch.txt", b"scratch\n")
    _write(src / "temp" / "sub" / "more.bin", b"more\n")
    (src / "emptydir").mkdir()
    (src / "link-to-readme").symlink_to("readme.txt")
    (src / "dir1" / "dangling").symlink_to("../nowhere")
    (src / "dir-link").symlink_to("dir1")
    for directory in (src / "dir1" / "dir2", src / "dir1", src / "emptydir", src / "img"):
        os.utime(directory, (MTIME + 100, MTIME + 100))
    (src / "dir1").chmod(0o750)
    return src


def _snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Relative path -> (kind, content sha256 or link target, mode, mtime in seconds)."""
    found: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", None, mode, int(st.st_mtime))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[rel] = ("file", digest, mode, int(st.st_mtime), st.st_uid, st.st_gid)
    return found


def test_the_archive_extracts_with_tar_to_the_same_tree_minus_the_excluded(tree, tmp_path):
    archive = tmp_path / "backup.tar"
    result, _ = _backup(_config(tree, exclude=["*.log", "temp/*"]), tmp_path / "t", archive)

    dest = tmp_path / "restored"
    dest.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(dest)], check=True)

    expected = {
        rel: entry
        for rel, entry in _snapshot(tree).items()
        if not rel.endswith(".log") and rel != "temp" and not rel.startswith("temp/")
    }
    assert "dir1/dir2/deep.txt" in expected
    assert "emptydir" in expected
    assert expected["link-to-readme"] == ("link", "readme.txt")
    assert _snapshot(dest) == expected

    assert FilesEngine().artifact_extension({}) == "tar"
    # readme.txt, empty, run.sh, big.bin, deep.txt, dir1/photo.jpg, img/p.jpg
    assert result.files_count == 7
    assert result.metadata["files_count"] == 7
    assert result.metadata["symlinks_count"] == 3
    assert result.metadata["total_bytes"] == sum(
        (tree / rel).stat().st_size for rel, entry in expected.items() if entry[0] == "file"
    )
    assert result.metadata["unreadable_count"] == 0
    assert result.metadata["unreadable"] == []
    assert "Archived 7 files" in result.metadata["engine_output"]


def test_member_names_are_relative_and_keep_owner_and_mode(tree, tmp_path):
    os.chown(tree / "readme.txt", 1234, 4321)
    _, data = _backup(_config(tree), tmp_path / "t")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert all(not name.startswith(("/", "./")) for name in members)
    assert "temp/sub/more.bin" in members
    assert "app.log" in members
    readme = members["readme.txt"]
    assert (readme.uid, readme.gid, readme.mode, readme.mtime) == (1234, 4321, 0o644, MTIME)
    assert members["dir-link"].issym()
    assert members["dir-link"].linkname == "dir1"
    assert members["dir1"].isdir()
    assert members["dir1"].mode == 0o750
    assert not any(name.startswith("dir-link/") for name in members)


def test_include_patterns_keep_only_matching_files_and_their_directories(tree, tmp_path):
    result, data = _backup(_config(tree, include=["*.jpg"]), tmp_path / "t")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = sorted(m.name for m in tar.getmembers())
    assert names == ["dir1", "dir1/photo.jpg", "img", "img/p.jpg"]
    assert result.files_count == 2


def test_include_and_exclude_patterns_combine(tree, tmp_path):
    _, data = _backup(_config(tree, include=["*.txt"], exclude=["dir1"]), tmp_path / "t")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = sorted(m.name for m in tar.getmembers())
    assert names == ["readme.txt", "temp", "temp/scratch.txt"]


def test_a_missing_source_directory_is_an_engine_error(tmp_path):
    with (
        pytest.raises(EngineError, match="does not exist"),
        FilesEngine().backup(_config(tmp_path / "nope"), {}, tmp_path / "t"),
    ):
        pass


def test_a_source_that_is_a_file_is_an_engine_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with (
        pytest.raises(EngineError, match="not a directory"),
        FilesEngine().backup(_config(tmp_path / "f"), {}, tmp_path / "t"),
    ):
        pass


NOBODY = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else None
needs_root = pytest.mark.skipif(NOBODY is None, reason="switching to nobody needs root")


@contextmanager
def _world_readable_dir() -> Iterator[Path]:
    # tmp_path lives under a 0700 directory that nobody cannot enter.
    root = Path(tempfile.mkdtemp(prefix="dg-files-test-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


@contextmanager
def _as_nobody() -> Iterator[None]:
    assert NOBODY is not None
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


@needs_root
def test_unreadable_files_and_directories_are_skipped_and_reported(tmp_path):
    with _world_readable_dir() as src:
        _write(src / "ok.txt", b"fine\n")
        _write(src / "sub" / "ok2.txt", b"fine too\n")
        _write(src / "secret.txt", b"root only\n", mode=0o600)
        _write(src / "locked" / "inside.txt", b"hidden\n")
        (src / "locked").chmod(0o700)
        (src / "sub").chmod(0o755)
        with _as_nobody():
            result, data = _backup(_config(src), tmp_path / "t")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = sorted(m.name for m in tar.getmembers())
        member = tar.extractfile("ok.txt")
        assert member is not None
        assert member.read() == b"fine\n"
    assert names == ["locked", "ok.txt", "sub", "sub/ok2.txt"]
    assert result.files_count == 2
    assert result.metadata["unreadable_count"] == 2
    assert result.metadata["unreadable"] == ["locked/", "secret.txt"]
    assert "skipped 2 unreadable entries" in result.metadata["engine_output"]


@needs_root
def test_a_tree_where_nothing_can_be_read_is_an_engine_error(tmp_path):
    with _world_readable_dir() as src:
        _write(src / "secret.txt", b"root only\n", mode=0o600)
        _write(src / "other.txt", b"root only\n", mode=0o600)
        with _as_nobody(), pytest.raises(EngineError, match="Nothing under"):
            _backup(_config(src), tmp_path / "t")


@needs_root
def test_an_unreadable_source_directory_is_an_engine_error(tmp_path):
    with _world_readable_dir() as root:
        src = root / "private"
        _write(src / "a.txt", b"a")
        src.chmod(0o700)
        with _as_nobody(), pytest.raises(EngineError, match="cannot be read"):
            _backup(_config(src), tmp_path / "t")


def test_an_error_in_the_archiving_thread_surfaces_from_finish(tree, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tarfile.TarFile, "gettarinfo", broken)
    with pytest.raises(EngineError, match="disk on fire"):
        _backup(_config(tree), tmp_path / "t")


def _big_tree(root: Path, files: int = 4, size: int = 50 * 1024 * 1024) -> Path:
    root.mkdir()
    for i in range(files):
        with (root / f"big-{i}.bin").open("wb") as f:
            f.truncate(size)  # sparse: cheap to create, read as real bytes
    return root


def test_a_large_tree_streams_in_bounded_memory(tmp_path):
    src = _big_tree(tmp_path / "big")
    total = 0
    tracemalloc.start()
    try:
        with FilesEngine().backup(_config(src), {}, tmp_path / "t") as stream:
            while chunk := stream.read(1024 * 1024):
                total += len(chunk)
            result = stream.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.files_count == 4
    assert result.metadata["total_bytes"] == 200 * 1024 * 1024
    assert total >= 200 * 1024 * 1024
    assert peak < 16 * 1024 * 1024


def test_aborting_stops_the_archiving_thread_promptly(tmp_path):
    src = _big_tree(tmp_path / "big")
    with FilesEngine().backup(_config(src), {}, tmp_path / "t") as stream:
        assert stream.read(65536)
        started = time.monotonic()
        stream.abort()
        stream.abort()
        assert time.monotonic() - started < 5
        with pytest.raises(EngineError):
            stream.finish()
    assert not [t for t in threading.enumerate() if t.name.startswith("files-backup:")]


def _fail_downstream(src: Path, temp_dir: Path) -> None:
    with FilesEngine().backup(_config(src), {}, temp_dir) as stream:
        stream.read(65536)
        raise RuntimeError("upload failed")


def test_leaving_the_context_without_finishing_stops_the_thread(tmp_path):
    src = _big_tree(tmp_path / "big")
    with pytest.raises(RuntimeError, match="upload failed"):
        _fail_downstream(src, tmp_path / "t")
    assert not [t for t in threading.enumerate() if t.name.startswith("files-backup:")]
