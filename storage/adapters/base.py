"""The contract every storage adapter declares and implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Protocol

from core.registry import Strategy


class StorageError(Exception):
    """A storage operation failed. The message is readable and carries no secret."""


class TransientStorageError(StorageError):
    """Worth retrying: a timeout, a dropped connection, a 5xx answer."""


class StorageUnreachable(StorageError):
    """The host or endpoint cannot be reached."""


class StorageAuthFailed(StorageError):
    """The credentials were refused."""


class StoragePathMissing(StorageError):
    """The bucket, path or directory does not exist."""


class StoragePermissionDenied(StorageError):
    """Reached and authenticated, but not allowed to read or write there."""


class StorageFull(StorageError):
    """No room left: the disk is full or ``max_size_gb`` would be exceeded."""


def relative_parts(path: str, *, allow_root: bool = False) -> tuple[str, ...]:
    """The parts of a location-relative storage path, after refusing what could escape the root.

    Paths come from job settings and restore requests: a ``..``, an absolute path or a NUL must
    not let a backup write, read or delete outside its location, whatever the storage type.
    """
    if "\x00" in path:
        raise StorageError("A storage path may not contain NUL characters.")
    relative = PurePosixPath(path)
    if relative.is_absolute():
        raise StorageError(f"Storage paths are relative to the location; got {path!r}.")
    if ".." in relative.parts:
        raise StorageError(f"Storage paths may not contain '..'; got {path!r}.")
    if not relative.parts and not allow_root:
        raise StorageError("An empty storage path names the location's root, not a file.")
    return relative.parts


@dataclass(frozen=True)
class StoredObject:
    path: str  # relative to the location's root, POSIX separators
    size: int


@dataclass(frozen=True)
class StorageUsage:
    used_bytes: int  # bytes of DataGuardian's files under the root
    available_bytes: int | None  # None where the service has no such notion (object stores)


class StorageWriter(Protocol):
    """An open upload. ``write`` appends; the context's clean exit publishes the object
    atomically (rename, multipart completion); an exception aborts it and removes every byte
    written, so no failed run leaves a complete-looking file."""

    bytes_written: int

    def write(self, data: bytes, /) -> int: ...


class StorageAdapter(Strategy):
    """A storage type: its ``config`` schema and the operations on it.

    Subclasses set ``name`` (the ``type`` stored on ``StorageLocation``), ``label``,
    ``config_schema`` and ``secret_fields``, and implement the operations. Every ``path`` is
    relative to the location's root (``path``, ``remote_path`` or the bucket plus ``prefix``);
    absolute paths and ``..`` are refused.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def open_write(
        self, path: str, *, size_hint: int | None = None
    ) -> AbstractContextManager[StorageWriter]:
        """Open an upload of unknown length. ``size_hint`` is the caller's estimate of the
        final size in bytes (it may be wrong either way); object stores use it to choose a part
        size that keeps the upload under the service's part-count limit."""
        raise NotImplementedError

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        raise NotImplementedError

    def delete(self, path: str) -> None:
        """Delete a file, or everything below a directory/prefix. Missing is not an error."""
        raise NotImplementedError

    def list_files(self, prefix: str = "") -> list[StoredObject]:
        """Every file below ``prefix``, recursively."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def usage(self) -> StorageUsage:
        raise NotImplementedError

    def test_connection(self) -> None:
        """Raise the ``StorageError`` subclass that says what is wrong, or return."""
        raise NotImplementedError
