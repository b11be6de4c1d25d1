"""The SSH/SFTP storage adapter: paths below the configured root, publish-by-rename writes,
reads, listing, usage and cleanup, each over a session of its own."""

from __future__ import annotations

import errno
import io
import secrets
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast

import paramiko
from paramiko.sftp_attr import SFTPAttributes

from storage.adapters.base import (
    StorageAdapter,
    StorageError,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUsage,
    StorageWriter,
    StoredObject,
    TransientStorageError,
    relative_parts,
)
from storage.adapters.ssh.config import SSHConfig
from storage.adapters.ssh.connection import connect
from storage.adapters.ssh.files import (
    Session,
    SFTPReader,
    SFTPWriter,
    create_exclusive,
    statvfs_available,
)

# Temporary names end with this, as with the local adapter, so leftovers are never listed.
PARTIAL_SUFFIX = ".partial"


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, EOFError | ConnectionError | TimeoutError | paramiko.SSHException)


class SSHAdapter(StorageAdapter):
    """Files on an SSH server, written through SFTP with the local adapter's semantics.

    Host key: when ``host_key`` is configured the server must present exactly that key, or
    nothing is sent. When it is empty the key is accepted on trust (as ``ssh`` does on a first
    connection) and its fingerprint is kept in ``last_host_key_fingerprint`` for the operator to
    check and pin; until then, someone able to redirect the connection could receive backups.
    """

    name = "ssh"
    label = "SSH / SFTP"
    config_schema = SSHConfig
    secret_fields = frozenset({"password", "private_key", "private_key_passphrase"})

    # Seconds to connect, to read the server's banner and to finish the key exchange and
    # authentication. Tests lower it to exercise a silent server quickly.
    connect_timeout: float = 10.0
    # Seconds a single read, write or reply may take once connected before the connection is
    # considered lost.
    operation_timeout: float = 120.0
    # Published files and temporaries: backups hold database contents.
    file_mode = 0o600
    # Directories the adapter creates below the root.
    directory_mode = 0o700

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.host = str(config["host"])
        self.port = int(config.get("port") or 22)
        self.root = PurePosixPath(str(config["remote_path"]))
        self.last_host_key_fingerprint: str | None = None
        self._unpinned_warned = False

    @property
    def _where(self) -> str:
        return f"{self.config.get('username')}@{self.host}:{self.port}"

    # -- connection -------------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = connect(self)
        try:
            yield session
        finally:
            session.close()

    def _error(self, exc: BaseException, doing: str, session: Session) -> StorageError:
        """Translate a paramiko/socket failure into the subclass that says what to fix.

        SFTP status errors and socket errors are both ``OSError``s; a dead transport is what
        tells a lost connection (worth retrying) from a refusal by the server.
        """
        if isinstance(exc, StorageError):
            return exc
        if not session.transport.is_active() or _is_connection_error(exc):
            return TransientStorageError(
                f"The connection to {self.host}:{self.port} was lost while trying to {doing}."
            )
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            message = f"Could not {doing} on {self._where}: {reason}."
            if exc.errno == errno.ENOENT:
                return StoragePathMissing(message)
            if exc.errno in (errno.EACCES, errno.EPERM):
                return StoragePermissionDenied(message)
            return StorageError(message)
        return StorageError(f"Could not {doing} on {self._where}: {type(exc).__name__}.")

    # -- paths ------------------------------------------------------------------------------

    def _resolve(self, path: str, *, allow_root: bool = False) -> str:
        """Return the remote ``root/path``, refusing anything that could land outside the root.

        Unlike the local adapter this cannot resolve symlinks on the server; listing and usage
        skip symlinks, and deleting one removes the link only.
        """
        return str(self.root.joinpath(*relative_parts(path, allow_root=allow_root)))

    def _relative(self, remote: str) -> str:
        return PurePosixPath(remote).relative_to(self.root).as_posix()

    def _require_root(self, session: Session) -> None:
        try:
            attributes = session.sftp.stat(str(self.root))
        except Exception as exc:
            error = self._error(exc, f"find the directory {self.root}", session)
            if isinstance(error, StoragePathMissing):
                raise StoragePathMissing(
                    f"The directory {self.root} does not exist on {self._where}."
                ) from exc
            raise error from exc
        if not stat.S_ISDIR(attributes.st_mode or 0):
            raise StoragePathMissing(f"{self.root} on {self._where} is not a directory.")

    def _lstat(self, session: Session, remote: str) -> SFTPAttributes | None:
        try:
            return session.sftp.lstat(remote)
        except Exception as exc:
            error = self._error(exc, f"inspect {remote}", session)
            if isinstance(error, StoragePathMissing):
                return None
            raise error from exc

    def _makedirs(self, session: Session, directory: PurePosixPath) -> None:
        """``mkdir -p`` below the root; the root itself must already exist."""
        missing: list[PurePosixPath] = []
        current = directory
        while current != self.root and self._lstat(session, str(current)) is None:
            missing.append(current)
            current = current.parent
        for folder in reversed(missing):
            try:
                session.sftp.mkdir(str(folder), self.directory_mode)
            except Exception as exc:
                # Another run may have created it meanwhile; only a real failure matters.
                attributes = self._lstat(session, str(folder))
                if attributes is None or not stat.S_ISDIR(attributes.st_mode or 0):
                    raise self._error(exc, f"create the directory {folder}", session) from exc

    # -- writing ----------------------------------------------------------------------------

    def open_write(
        self, path: str, *, size_hint: int | None = None
    ) -> AbstractContextManager[StorageWriter]:
        return self._open_write(path)

    @contextmanager
    def _open_write(self, path: str) -> Iterator[StorageWriter]:
        """Write to a hidden temporary sibling and rename it into place on a clean exit."""
        target = PurePosixPath(self._resolve(path))
        with self._session() as session:
            # Never create the root: a missing root is usually an unmounted disk on the server.
            self._require_root(session)
            self._refuse_existing(session, target, path)
            self._makedirs(session, target.parent)
            temp = str(target.with_name(f".{target.name}.{secrets.token_hex(8)}{PARTIAL_SUFFIX}"))
            try:
                file = create_exclusive(session.sftp, temp, self.file_mode)
            except Exception as exc:
                raise self._error(exc, f"create a temporary file for {path}", session) from exc
            try:
                file.set_pipelined(True)
                writer = SFTPWriter(self, session, file, temp, path)
                yield writer
                writer.finish()
                self._publish(session, temp, target, path)
            except BaseException:
                with suppress(Exception):
                    file.close()
                self._remove_temporary(session, temp)
                raise

    def _remove_temporary(self, session: Session, temp: str) -> None:
        """Best effort: remove an aborted upload, over a new connection if the old one died."""
        try:
            session.sftp.remove(temp)
            return
        except Exception as exc:  # the error that aborted the upload is the one to report
            # An answer from the server (a status with an errno) is final; anything else may be
            # the connection dying, which the transport notices only a moment later.
            if getattr(exc, "errno", None) is not None and not _is_connection_error(exc):
                return  # refused or already gone; the caller's delete of the run will retry
        with suppress(Exception), self._session() as fresh:
            fresh.sftp.remove(temp)

    def _refuse_existing(self, session: Session, target: PurePosixPath, path: str) -> None:
        # A published backup is immutable: overwriting it would silently replace a good copy
        # with one that has not been verified yet.
        if self._lstat(session, str(target)) is not None:
            raise StorageError(f"{path} already exists; a stored file is never overwritten.")

    def _publish(self, session: Session, temp: str, target: PurePosixPath, path: str) -> None:
        """Rename the finished temporary file to its final name.

        ``posix-rename@openssh.com`` replaces an existing file, so the existence check comes
        right before it; like the local adapter's, that check is not atomic against a second
        writer of the same name, which unique run paths rule out in practice. Servers without
        the extension get the plain SFTP rename, which refuses to replace an existing file.
        """
        self._refuse_existing(session, target, path)
        try:
            session.sftp.posix_rename(temp, str(target))
            return
        except OSError as exc:
            if not session.transport.is_active() or exc.errno is not None:
                raise self._error(exc, f"publish {path}", session) from exc
        try:
            session.sftp.rename(temp, str(target))
        except Exception as exc:
            raise self._error(exc, f"publish {path}", session) from exc

    # -- reading and housekeeping -----------------------------------------------------------

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._open_read(path)

    @contextmanager
    def _open_read(self, path: str) -> Iterator[BinaryIO]:
        remote = self._resolve(path)
        with self._session() as session:
            try:
                file = session.sftp.open(remote, "rb")
                size = file.stat().st_size
                # Ask for the following blocks before they are read; without it every 32 KiB
                # costs a round trip. The cap bounds what may be in flight at once.
                file.prefetch(size, max_concurrent_requests=64)
            except Exception as exc:
                error = self._error(exc, f"open {path}", session)
                if isinstance(error, StoragePathMissing):
                    raise StoragePathMissing(f"{path} does not exist in this location.") from exc
                raise error from exc
            reader = io.BufferedReader(SFTPReader(self, session, file, path), 1024 * 1024)
            try:
                yield cast(BinaryIO, reader)
            finally:
                with suppress(Exception):
                    file.close()

    def delete(self, path: str) -> None:
        remote = self._resolve(path)
        with self._session() as session:
            attributes = self._lstat(session, remote)
            if attributes is not None:
                if stat.S_ISDIR(attributes.st_mode or 0):
                    self._remove_tree(session, remote)
                else:
                    self._remove_file(session, remote)
            self._prune_empty_parents(session, PurePosixPath(remote).parent)

    def _remove_file(self, session: Session, remote: str) -> None:
        try:
            session.sftp.remove(remote)
        except Exception as exc:
            error = self._error(exc, f"delete {self._relative(remote)}", session)
            if not isinstance(error, StoragePathMissing):  # gone already: the outcome wanted
                raise error from exc

    def _remove_tree(self, session: Session, remote: str) -> None:
        for entry in self._listdir(session, remote):
            child = f"{remote}/{entry.filename}"
            if stat.S_ISDIR(entry.st_mode or 0):
                self._remove_tree(session, child)
            else:
                self._remove_file(session, child)
        try:
            session.sftp.rmdir(remote)
        except Exception as exc:
            error = self._error(exc, f"delete {self._relative(remote)}", session)
            if not isinstance(error, StoragePathMissing):
                raise error from exc

    def _prune_empty_parents(self, session: Session, directory: PurePosixPath) -> None:
        # Retention deletes runs one by one; without pruning, the per-job and per-date folders
        # would pile up empty forever.
        while directory != self.root and self.root in directory.parents:
            try:
                session.sftp.rmdir(str(directory))
            except Exception:
                return  # not empty, already gone or not ours to remove: stop climbing
            directory = directory.parent

    def _listdir(self, session: Session, remote: str) -> list[SFTPAttributes]:
        try:
            return session.sftp.listdir_attr(remote)
        except Exception as exc:
            error = self._error(exc, f"read the directory {remote}", session)
            if isinstance(error, StoragePathMissing):
                return []  # removed while we looked: another run's cleanup
            raise error from exc

    def _walk_files(self, session: Session, top: str) -> Iterator[tuple[str, int]]:
        """Every regular file below ``top`` with its size; symlinks are not followed."""
        for entry in self._listdir(session, top):
            child = f"{top}/{entry.filename}"
            mode = entry.st_mode or 0
            if stat.S_ISDIR(mode):
                yield from self._walk_files(session, child)
            elif stat.S_ISREG(mode):
                yield child, entry.st_size or 0

    def list_files(self, prefix: str = "") -> list[StoredObject]:
        top = self._resolve(prefix, allow_root=True)
        with self._session() as session:
            self._require_root(session)
            attributes = self._lstat(session, top)
            if attributes is None:
                return []
            if stat.S_ISREG(attributes.st_mode or 0):
                candidates = [(top, attributes.st_size or 0)]
            else:
                candidates = list(self._walk_files(session, top))
        return sorted(
            (
                StoredObject(self._relative(remote), size)
                for remote, size in candidates
                if not remote.endswith(PARTIAL_SUFFIX)
            ),
            key=lambda stored: stored.path,
        )

    def exists(self, path: str) -> bool:
        remote = self._resolve(path, allow_root=True)
        with self._session() as session:
            try:
                session.sftp.stat(remote)
            except Exception as exc:
                error = self._error(exc, f"inspect {path}", session)
                if isinstance(error, StoragePathMissing):
                    return False
                raise error from exc
            return True

    def usage(self) -> StorageUsage:
        with self._session() as session:
            self._require_root(session)
            # Temporary files count: they occupy the disk.
            used = sum(size for _, size in self._walk_files(session, str(self.root)))
            available = statvfs_available(session.sftp, str(self.root))
        return StorageUsage(used_bytes=used, available_bytes=available)

    def test_connection(self) -> None:
        with self._session() as session:
            self._require_root(session)
            # Really create a file: permission bits alone say nothing about read-only mounts,
            # chroots or ACLs, and a backup would otherwise fail only at its end.
            probe = f"{self.root}/.dataguardian-test.{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
            try:
                create_exclusive(session.sftp, probe, self.file_mode).close()
            except Exception as exc:
                raise self._error(exc, f"write to {self.root}", session) from exc
            try:
                session.sftp.remove(probe)
            except Exception as exc:
                raise self._error(exc, f"remove a test file from {self.root}", session) from exc
