"""LocalAdapter against the real file system: commit-or-abort writes, path confinement, quota."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from storage.adapters.base import (
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StoredObject,
)
from storage.adapters.local import LocalAdapter

CHUNK = 64 * 1024
MIB = 1024 * 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "backups"
    directory.mkdir()
    return directory


@pytest.fixture
def adapter(root: Path) -> LocalAdapter:
    return LocalAdapter({"path": str(root)})


def _mount_tmpfs(target: Path, options: str) -> None:
    target.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system, so "disk full" is the kernel's ENOSPC, not a simulation."""
    mountpoint = tmp_path / "tiny"
    _mount_tmpfs(mountpoint, "size=1m")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A read-only mount: refuses writes even to root, unlike permission bits."""
    mountpoint = tmp_path / "readonly"
    _mount_tmpfs(mountpoint, "ro,size=1m")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


@pytest.fixture
def immutable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory with the immutable attribute: the one way to make root unable to write."""
    directory = tmp_path / "immutable"
    directory.mkdir()
    result = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {result.stderr.decode().strip()}")
    yield directory
    subprocess.run(["chattr", "-i", str(directory)], check=True)


def files_under(directory: Path) -> list[str]:
    """Every file below ``directory``, hidden ones included, as relative POSIX paths."""
    return sorted(
        (Path(parent) / name).relative_to(directory).as_posix()
        for parent, _, names in os.walk(directory)
        for name in names
    )


def write(adapter: LocalAdapter, path: str, data: bytes) -> None:
    with adapter.open_write(path) as writer:
        writer.write(data)


def write_chunks(
    adapter: LocalAdapter,
    path: str,
    chunks: Iterable[bytes],
    then: Callable[[], None] | None = None,
) -> None:
    """Write ``chunks``, then call ``then`` while the writer is still open."""
    with adapter.open_write(path) as writer:
        for chunk in chunks:
            writer.write(chunk)
        if then is not None:
            then()


def fail(message: str) -> Callable[[], None]:
    def raise_error() -> None:
        raise RuntimeError(message)

    return raise_error


# -- writing -------------------------------------------------------------------------------


def test_a_file_written_in_64_kib_pieces_reads_back_byte_for_byte(adapter: LocalAdapter) -> None:
    data = os.urandom(3 * MIB + 12345)

    with adapter.open_write("job/2026-11-23/dump.sql.zst") as writer:
        for start in range(0, len(data), CHUNK):
            assert writer.write(data[start : start + CHUNK]) == len(data[start : start + CHUNK])
    with adapter.open_read("job/2026-11-23/dump.sql.zst") as stream:
        read_back = stream.read()

    assert writer.bytes_written == len(data)
    assert read_back == data


def test_nothing_appears_under_the_final_name_before_the_block_exits(
    adapter: LocalAdapter, root: Path
) -> None:
    with adapter.open_write("job/dump") as writer:
        writer.write(b"half a dump")
        assert not adapter.exists("job/dump")
        assert adapter.list_files() == []

    assert adapter.exists("job/dump")
    assert files_under(root) == ["job/dump"]


def test_an_exception_inside_the_block_leaves_no_file_at_all(
    adapter: LocalAdapter, root: Path
) -> None:
    with pytest.raises(RuntimeError, match="dump failed"):
        write_chunks(adapter, "job/dump", [b"x" * CHUNK], then=fail("dump failed"))

    assert files_under(root) == []


def test_the_published_file_is_readable_by_its_owner_only(
    adapter: LocalAdapter, root: Path
) -> None:
    previous = os.umask(0)  # the most permissive umask must not widen the mode
    try:
        write(adapter, "dump", b"secret rows")
    finally:
        os.umask(previous)

    assert stat.S_IMODE((root / "dump").stat().st_mode) == 0o600


def test_writing_to_an_existing_name_is_refused_and_keeps_the_original(
    adapter: LocalAdapter, root: Path
) -> None:
    write(adapter, "dump", b"original")

    with pytest.raises(StorageError, match="already exists"):
        write(adapter, "dump", b"replacement")

    assert (root / "dump").read_bytes() == b"original"
    assert files_under(root) == ["dump"]


def test_a_file_published_by_someone_else_during_the_write_is_not_overwritten(
    adapter: LocalAdapter, root: Path
) -> None:
    def publish_original() -> None:
        (root / "dump").write_bytes(b"original")

    with pytest.raises(StorageError, match="already exists"):
        write_chunks(adapter, "dump", [b"replacement"], then=publish_original)

    assert (root / "dump").read_bytes() == b"original"
    assert files_under(root) == ["dump"]


def test_writing_into_a_missing_root_fails_instead_of_creating_it(tmp_path: Path) -> None:
    unmounted = tmp_path / "mnt" / "usb"
    adapter = LocalAdapter({"path": str(unmounted)})

    with pytest.raises(StoragePathMissing):
        write(adapter, "dump", b"data")

    assert not unmounted.exists()


# -- confinement ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["../outside", "job/../../outside", "job/../dump", "/etc/passwd", "", "a\x00b"]
)
def test_paths_that_could_leave_the_root_are_refused_for_writing(
    adapter: LocalAdapter, tmp_path: Path, path: str
) -> None:
    with pytest.raises(StorageError):
        write(adapter, path, b"data")

    assert files_under(tmp_path) == []


@pytest.mark.parametrize("path", ["../backups", "/etc/passwd", "job/../../x"])
def test_paths_that_could_leave_the_root_are_refused_for_every_operation(
    adapter: LocalAdapter, path: str
) -> None:
    with pytest.raises(StorageError), adapter.open_read(path):
        pass
    with pytest.raises(StorageError):
        adapter.delete(path)
    with pytest.raises(StorageError):
        adapter.exists(path)
    with pytest.raises(StorageError):
        adapter.list_files(path)


def test_a_symlink_pointing_out_of_the_root_is_not_followed(
    adapter: LocalAdapter, root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_bytes(b"keep me")
    (root / "link").symlink_to(elsewhere)

    with pytest.raises(StorageError, match="outside"):
        write(adapter, "link/dump", b"data")
    with pytest.raises(StorageError, match="outside"):
        adapter.delete("link/precious")

    assert adapter.list_files() == []
    assert adapter.usage().used_bytes == 0
    assert files_under(elsewhere) == ["precious"]


# -- reading, listing, deleting ------------------------------------------------------------


def test_reading_a_missing_file_says_the_path_is_missing(adapter: LocalAdapter) -> None:
    with pytest.raises(StoragePathMissing), adapter.open_read("nothing/here"):
        pass


def test_list_files_returns_every_file_below_the_prefix_sorted_with_sizes(
    adapter: LocalAdapter, root: Path
) -> None:
    write(adapter, "b/2/dump", b"22")
    write(adapter, "a/dump", b"1")
    write(adapter, "b/1/dump", b"333")
    (root / "b" / "1" / ".dump.abc.partial").write_bytes(b"unfinished")

    assert adapter.list_files() == [
        StoredObject("a/dump", 1),
        StoredObject("b/1/dump", 3),
        StoredObject("b/2/dump", 2),
    ]
    assert adapter.list_files("b") == [StoredObject("b/1/dump", 3), StoredObject("b/2/dump", 2)]
    assert adapter.list_files("b/1/dump") == [StoredObject("b/1/dump", 3)]
    assert adapter.list_files("missing") == []


def test_exists_answers_for_files_directories_and_missing_paths(adapter: LocalAdapter) -> None:
    write(adapter, "job/dump", b"data")

    assert adapter.exists("job/dump")
    assert adapter.exists("job")
    assert not adapter.exists("job/other")


def test_deleting_a_file_prunes_the_parents_it_leaves_empty(
    adapter: LocalAdapter, root: Path
) -> None:
    write(adapter, "job/2026/11/dump", b"data")
    write(adapter, "job/2025/dump", b"data")

    adapter.delete("job/2026/11/dump")

    assert not (root / "job" / "2026").exists()
    assert files_under(root) == ["job/2025/dump"]
    adapter.delete("job/2025/dump")
    assert root.is_dir()
    assert list(root.iterdir()) == []


def test_deleting_a_directory_removes_everything_below_it(
    adapter: LocalAdapter, root: Path
) -> None:
    write(adapter, "job/run-1/dump", b"data")
    write(adapter, "job/run-1/manifest.json", b"{}")
    write(adapter, "other/dump", b"data")

    adapter.delete("job/run-1")

    assert files_under(root) == ["other/dump"]
    assert not (root / "job").exists()


def test_deleting_a_missing_path_is_not_an_error(adapter: LocalAdapter) -> None:
    adapter.delete("never/written")


# -- usage and quota -----------------------------------------------------------------------


def test_usage_counts_the_files_and_reports_the_disks_free_space(
    adapter: LocalAdapter, root: Path
) -> None:
    write(adapter, "a", b"x" * 1000)
    write(adapter, "b/c", b"x" * 234)

    usage = adapter.usage()

    assert usage.used_bytes == 1234
    free = shutil.disk_usage(root).free
    assert usage.available_bytes is not None
    assert abs(usage.available_bytes - free) < 64 * MIB  # the disk is shared with other tests


def test_usage_caps_the_available_space_at_max_size_gb(root: Path) -> None:
    adapter = LocalAdapter({"path": str(root), "max_size_gb": 0.001})
    limit = int(0.001 * 1024**3)
    write(adapter, "dump", b"x" * 1000)

    assert adapter.usage().available_bytes == limit - 1000


def test_exceeding_max_size_gb_raises_storage_full_and_leaves_nothing_behind(
    root: Path,
) -> None:
    adapter = LocalAdapter({"path": str(root), "max_size_gb": 0.001})  # about 1 MiB
    write(adapter, "old", b"x" * (512 * 1024))

    with pytest.raises(StorageFull):
        write_chunks(adapter, "new", [b"y" * CHUNK] * 16)

    assert files_under(root) == ["old"]
    assert adapter.usage().used_bytes == 512 * 1024


def test_a_write_that_fits_within_max_size_gb_succeeds(root: Path) -> None:
    adapter = LocalAdapter({"path": str(root), "max_size_gb": 0.001})
    write(adapter, "old", b"x" * (512 * 1024))

    write(adapter, "new", b"y" * (256 * 1024))

    assert adapter.exists("new")


def test_a_really_full_disk_raises_storage_full_and_leaves_nothing_behind(
    tiny_disk: Path,
) -> None:
    adapter = LocalAdapter({"path": str(tiny_disk)})

    with pytest.raises(StorageFull):
        write_chunks(adapter, "dump", [b"z" * CHUNK] * 32)  # 2 MiB into a 1 MiB file system

    assert files_under(tiny_disk) == []


# -- test_connection -----------------------------------------------------------------------


def test_a_writable_directory_passes_the_connection_test_without_traces(
    adapter: LocalAdapter, root: Path
) -> None:
    adapter.test_connection()

    assert list(root.iterdir()) == []


def test_a_missing_directory_fails_the_connection_test(tmp_path: Path) -> None:
    with pytest.raises(StoragePathMissing, match="does not exist"):
        LocalAdapter({"path": str(tmp_path / "missing")}).test_connection()


def test_a_file_instead_of_a_directory_fails_the_connection_test(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")

    with pytest.raises(StoragePathMissing, match="not a directory"):
        LocalAdapter({"path": str(tmp_path / "file")}).test_connection()


def test_a_read_only_mount_fails_the_connection_test(read_only_mount: Path) -> None:
    with pytest.raises(StoragePermissionDenied):
        LocalAdapter({"path": str(read_only_mount)}).test_connection()


def test_an_immutable_directory_fails_the_connection_test(immutable_dir: Path) -> None:
    with pytest.raises(StoragePermissionDenied):
        LocalAdapter({"path": str(immutable_dir)}).test_connection()


def test_writing_to_a_read_only_mount_says_permission_denied(read_only_mount: Path) -> None:
    with pytest.raises(StoragePermissionDenied):
        write(LocalAdapter({"path": str(read_only_mount)}), "dump", b"data")
