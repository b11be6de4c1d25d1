"""A directory on the DataGuardian host (or a mount on it)."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from rest_framework import serializers

from core.registry import AbsolutePathField, ConfigSchema
from storage.adapters.base import (
    StorageAdapter,
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUsage,
    StorageWriter,
    StoredObject,
    relative_parts,
)

# Temporary names end with this, so a crashed run's leftovers are recognisable and never listed
# as backups.
PARTIAL_SUFFIX = ".partial"

# ``max_size_gb`` counts binary gigabytes, as ``df -h`` and ``du -h`` do, so the number an
# operator reads off the disk is the number they type.
_BYTES_PER_GB = 1024**3

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class LocalConfig(ConfigSchema):
    path = AbsolutePathField()
    max_size_gb = serializers.FloatField(min_value=0.001, required=False, allow_null=True)


def _storage_error(exc: OSError, doing: str) -> StorageError:
    """Translate an ``OSError`` into the subclass that tells the operator what to fix.

    The message names the operation and the OS reason only: the caller's relative path is enough
    to find the file, and nothing here can carry a secret.
    """
    reason = exc.strerror or str(exc)
    message = f"Could not {doing}: {reason}."
    if exc.errno in _FULL_ERRNOS:
        return StorageFull(message)
    if exc.errno in _DENIED_ERRNOS:
        return StoragePermissionDenied(message)
    if exc.errno == errno.ENOENT:
        return StoragePathMissing(message)
    return StorageError(message)


def _fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable: without it a power cut can lose the entry."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems (certain network and FUSE mounts) cannot sync a directory at all;
        # that is their durability model, not a failed write.
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _walk_files(top: Path) -> Iterator[tuple[Path, int]]:
    """Yield every regular file below ``top`` with its size, without following symlinks.

    Symlinks are skipped so that a link inside the root cannot make listing, usage or quota
    reach files elsewhere on the host.
    """
    try:
        entries = list(os.scandir(top))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _storage_error(exc, f"read the directory {top}") from exc
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk_files(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield Path(entry.path), entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue  # removed while we looked: another run's cleanup, not an error
        except OSError as exc:
            raise _storage_error(exc, f"inspect {entry.path}") from exc


class _LocalWriter:
    """The ``StorageWriter`` handed out by ``open_write``; it only appends and counts.

    ``remaining`` is the quota left when the writer opened, so enforcing ``max_size_gb`` costs a
    comparison per write instead of a walk of the whole tree.
    """

    def __init__(self, file: BinaryIO, remaining: int | None, path: str) -> None:
        self._file = file
        self._remaining = remaining
        self._path = path
        self.bytes_written = 0

    def write(self, data: bytes, /) -> int:
        if self._remaining is not None and self.bytes_written + len(data) > self._remaining:
            raise StorageFull(
                f"Writing {self._path} would exceed the location's max_size_gb limit."
            )
        try:
            written = self._file.write(data)
        except OSError as exc:
            raise _storage_error(exc, f"write {self._path}") from exc
        self.bytes_written += written
        return written


class LocalAdapter(StorageAdapter):
    name = "local"
    label = "Local directory"
    config_schema = LocalConfig

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.root = Path(config["path"])
        max_size_gb = config.get("max_size_gb")
        self.max_bytes: int | None = (
            None if max_size_gb is None else int(float(max_size_gb) * _BYTES_PER_GB)
        )

    # -- paths ------------------------------------------------------------------------------

    def _resolve(self, path: str, *, allow_root: bool = False) -> Path:
        """Return ``root / path``, refusing anything that could land outside the root.

        Paths come from job settings and restore requests; a ``..`` or an absolute path must not
        let a backup overwrite, read or delete arbitrary host files. The resolved check also
        catches a symlink inside the root that points out of it.
        """
        target = self.root.joinpath(*relative_parts(path, allow_root=allow_root))
        root_resolved = self.root.resolve()
        resolved = target.resolve()
        if resolved != root_resolved and root_resolved not in resolved.parents:
            raise StorageError(f"Storage path {path!r} resolves outside the location's root.")
        return target

    def _used_bytes(self) -> int:
        # Temporary files count: they occupy the disk, and another run's upload in progress
        # must not let this one overrun the quota.
        return sum(size for _, size in _walk_files(self.root))

    def _require_root(self) -> None:
        if not self.root.is_dir():
            raise StoragePathMissing(f"The directory {self.root} does not exist.")

    # -- writing ----------------------------------------------------------------------------

    def open_write(
        self, path: str, *, size_hint: int | None = None
    ) -> AbstractContextManager[StorageWriter]:
        return self._open_write(path)

    @contextmanager
    def _open_write(self, path: str) -> Iterator[StorageWriter]:
        """Write to a hidden temporary sibling and rename it into place on a clean exit.

        A reader (restore, verification, retention) therefore only ever sees complete files, and
        a failed run leaves nothing behind that could be mistaken for a backup.
        """
        target = self._resolve(path)
        # Never create the root itself: a missing root is usually an unmounted disk, and
        # backups written to the mount point would fill the system disk instead.
        self._require_root()
        self._refuse_existing(target, path)
        remaining = None if self.max_bytes is None else max(0, self.max_bytes - self._used_bytes())
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _storage_error(exc, f"create the directory for {path}") from exc
        temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}{PARTIAL_SUFFIX}")
        try:
            # O_EXCL: never adopt a file someone else created; 0600: backups hold database
            # contents, so no other local user may read them, whatever the umask says.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise _storage_error(exc, f"create a temporary file for {path}") from exc
        file = os.fdopen(fd, "wb")
        try:
            os.fchmod(fd, 0o600)
            yield _LocalWriter(file, remaining, path)
            try:
                file.flush()
                os.fsync(file.fileno())
                file.close()
            except OSError as exc:
                raise _storage_error(exc, f"finish writing {path}") from exc
            self._publish(temp, target, path)
        except BaseException:
            with suppress(OSError):
                file.close()
            with suppress(OSError):
                temp.unlink(missing_ok=True)
            raise

    def _refuse_existing(self, target: Path, path: str) -> None:
        # A published backup is immutable: overwriting it would silently replace a good copy
        # with one that has not been verified yet.
        if os.path.lexists(target):
            raise StorageError(f"{path} already exists; a stored file is never overwritten.")

    def _publish(self, temp: Path, target: Path, path: str) -> None:
        """Rename the finished temporary file to its final name and make the rename durable.

        The existence check before ``os.replace`` is not atomic against a second writer of the
        same name; run paths are unique per execution, so that race does not arise in practice.
        """
        self._refuse_existing(target, path)
        try:
            os.replace(temp, target)
        except OSError as exc:
            raise _storage_error(exc, f"publish {path}") from exc
        try:
            _fsync_directory(target.parent)
        except OSError as exc:
            # The rename may not survive a crash, so the run must not report success while the
            # file stays visible as if it had.
            with suppress(OSError):
                target.unlink()
            raise _storage_error(exc, f"publish {path}") from exc

    # -- reading and housekeeping -----------------------------------------------------------

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._open_read(path)

    @contextmanager
    def _open_read(self, path: str) -> Iterator[BinaryIO]:
        target = self._resolve(path)
        try:
            file = open(target, "rb")  # noqa: SIM115 - closed by this context manager
        except FileNotFoundError as exc:
            raise StoragePathMissing(f"{path} does not exist in this location.") from exc
        except OSError as exc:
            raise _storage_error(exc, f"open {path}") from exc
        with file:
            yield file

    def delete(self, path: str) -> None:
        target = self._resolve(path)
        try:
            if target.is_symlink() or target.is_file():
                target.unlink(missing_ok=True)
            elif target.is_dir():
                shutil.rmtree(target)
        except FileNotFoundError:
            pass  # deleted concurrently: the outcome the caller asked for
        except OSError as exc:
            raise _storage_error(exc, f"delete {path}") from exc
        self._prune_empty_parents(target.parent)

    def _prune_empty_parents(self, directory: Path) -> None:
        # Retention deletes runs one by one; without pruning, the per-job and per-date folders
        # would pile up empty forever.
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty, already gone or not ours to remove: stop climbing
            directory = directory.parent

    def list_files(self, prefix: str = "") -> list[StoredObject]:
        self._require_root()
        top = self._resolve(prefix, allow_root=True)
        if top.is_file() and not top.is_symlink():
            candidates: list[tuple[Path, int]] = [(top, top.stat().st_size)]
        else:
            candidates = list(_walk_files(top))
        return sorted(
            (
                StoredObject(file.relative_to(self.root).as_posix(), size)
                for file, size in candidates
                if not file.name.endswith(PARTIAL_SUFFIX)
            ),
            key=lambda stored: stored.path,
        )

    def exists(self, path: str) -> bool:
        return self._resolve(path, allow_root=True).exists()

    def usage(self) -> StorageUsage:
        self._require_root()
        used = self._used_bytes()
        try:
            available = shutil.disk_usage(self.root).free
        except OSError as exc:
            raise _storage_error(exc, f"read the free space of {self.root}") from exc
        if self.max_bytes is not None:
            available = max(0, min(available, self.max_bytes - used))
        return StorageUsage(used_bytes=used, available_bytes=available)

    def test_connection(self) -> None:
        try:
            mode = self.root.stat().st_mode
        except FileNotFoundError as exc:
            raise StoragePathMissing(f"The directory {self.root} does not exist.") from exc
        except OSError as exc:
            raise _storage_error(exc, f"reach {self.root}") from exc
        if not stat.S_ISDIR(mode):
            raise StoragePathMissing(f"{self.root} exists but is not a directory.")
        # Really create a file: permission bits alone say nothing about read-only mounts,
        # immutable directories or root, and a backup fails only at its end otherwise.
        probe = self.root / f".dataguardian-test.{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise _storage_error(exc, f"write to {self.root}") from exc
        os.close(fd)
        try:
            probe.unlink()
        except OSError as exc:
            raise _storage_error(exc, f"remove a test file from {self.root}") from exc
