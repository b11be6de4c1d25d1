"""Remote files over one SFTP session: streamed writes and reads, and the SFTP requests
paramiko has no public call for (exclusive create with a mode, pipelined-write statuses,
free space)."""

from __future__ import annotations

import io
from contextlib import suppress
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, cast

import paramiko
from paramiko.sftp import (
    CMD_EXTENDED,
    CMD_EXTENDED_REPLY,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_STATUS,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_WRITE,
)
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_client import SFTPClient
from paramiko.sftp_file import SFTPFile

from storage.adapters.base import StorageError, StorageFull

if TYPE_CHECKING:
    from storage.adapters.ssh.adapter import SSHAdapter

# SFTP version 3 reports "no space left" as a bare SSH_FX_FAILURE. When a write fails that way
# and the file system has less than this free, the disk being full is the likely reason.
_FULL_THRESHOLD = 1024 * 1024


class Session:
    """One authenticated connection and its SFTP channel."""

    def __init__(self, transport: paramiko.Transport, sftp: SFTPClient) -> None:
        self.transport = transport
        self.sftp = sftp

    def close(self) -> None:
        with suppress(Exception):
            self.sftp.close()
        with suppress(Exception):
            self.transport.close()


class SFTPWriter:
    """The ``StorageWriter`` handed out by ``open_write``: appends to the remote temporary file."""

    def __init__(
        self, adapter: SSHAdapter, session: Session, file: SFTPFile, temp: str, path: str
    ) -> None:
        self._adapter = adapter
        self._session = session
        self._file = file
        self._temp = temp
        self._path = path
        self.bytes_written = 0

    def write(self, data: bytes, /) -> int:
        try:
            self._file.write(data)
        except Exception as exc:
            raise self._write_error(exc) from exc
        self.bytes_written += len(data)
        return len(data)

    def finish(self) -> None:
        """Close the upload and prove the server stored every byte."""
        expected = self.bytes_written
        try:
            self._file.flush()
            drain_pipelined_writes(self._file)
            self._file.close()
            stored = self._session.sftp.stat(self._temp).st_size
        except Exception as exc:
            raise self._write_error(exc) from exc
        if stored != expected:
            raise StorageError(
                f"{self._path} was not stored completely on {self._adapter._where}: the server "
                f"has {stored} of {expected} bytes."
            )

    def _write_error(self, exc: BaseException) -> StorageError:
        path, session = self._path, self._session
        error = self._adapter._error(exc, f"write {path}", session)
        # SFTP v3 has no "disk full" status: a bare failure on a nearly full disk is one.
        if type(error) is StorageError and session.transport.is_active():
            available = statvfs_available(session.sftp, str(PurePosixPath(self._temp).parent))
            if available is not None and available < _FULL_THRESHOLD:
                return StorageFull(
                    f"Could not write {path} on {self._adapter._where}: the disk is full "
                    f"({available} bytes left)."
                )
        return error


class SFTPReader(io.RawIOBase):
    """A remote file as a raw stream whose errors are ``StorageError``s, not paramiko's."""

    def __init__(self, adapter: SSHAdapter, session: Session, file: SFTPFile, path: str) -> None:
        super().__init__()
        self._adapter = adapter
        self._session = session
        self._file = file
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._file.read(len(view))
        except Exception as exc:
            raise self._adapter._error(exc, f"read {self._path}", self._session) from exc
        view[: len(data)] = data
        return len(data)


def drain_pipelined_writes(file: SFTPFile) -> None:
    """Wait for the server's answer to every pipelined write still in flight.

    paramiko files pipelined write requests without an owner, so ``SFTPFile.close()`` reads and
    silently discards their status replies: a write the server refused (disk full, quota) would
    go unnoticed and the file would simply be shorter. Reading each reply here raises the
    server's error instead. This uses paramiko internals (``_reqs``, ``_read_response``) because
    no public call reports those statuses.
    """
    pending = cast(Any, file)._reqs
    client = cast(Any, file.sftp)
    while pending:
        kind, _ = client._read_response(pending.popleft())
        if kind != CMD_STATUS:
            raise paramiko.SFTPError("Expected a status reply to a write.")


def create_exclusive(sftp: SFTPClient, path: str, mode: int) -> SFTPFile:
    """Open a new file for writing, failing if it exists, created with ``mode`` from the start.

    ``SFTPClient.open`` sends no permissions, so the server would create the file with its
    default (often 0644) and a later chmod would leave a moment in which another local user can
    open it and keep reading what is written. Backups hold database contents, so the mode is
    part of the create request instead.
    """
    attributes = SFTPAttributes()
    attributes.st_mode = mode
    flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL
    client = cast(Any, sftp)
    kind, message = client._request(CMD_OPEN, path, flags, attributes)
    if kind != CMD_HANDLE:
        raise paramiko.SFTPError("Expected a file handle.")
    return SFTPFile(sftp, message.get_binary(), "wb")


def statvfs_available(sftp: SFTPClient, path: str) -> int | None:
    """Bytes available to an unprivileged user at ``path`` (``f_bavail * f_frsize``).

    Uses OpenSSH's ``statvfs@openssh.com`` extension, which paramiko has no call for. Servers
    without it answer with an error; the free space is then unknown (None), not zero.
    """
    try:
        kind, message = cast(Any, sftp)._request(CMD_EXTENDED, "statvfs@openssh.com", path)
    except OSError:
        return None
    if kind != CMD_EXTENDED_REPLY:
        return None
    _bsize, frsize, _blocks, _bfree, bavail = (message.get_int64() for _ in range(5))
    return int(bavail * frsize)
