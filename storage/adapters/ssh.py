"""SSH/SFTP servers (a NAS, another host).

Each operation opens its own SSH connection and closes it afterwards: backups write a handful of
large files, so the handshake is noise next to the transfer, and no half-dead connection can be
carried from one operation into the next.

Authentication is explicit only: the configured key and/or password. No SSH agent and no
``~/.ssh`` key files of the worker's user are consulted (``paramiko.Transport`` is used directly,
not ``SSHClient``), so a backup never authenticates with credentials the operator did not give.
"""

from __future__ import annotations

import base64
import errno
import io
import itertools
import logging
import secrets
import socket
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast

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
from rest_framework import serializers

from dataguardian.registry import AbsolutePathField, ConfigSchema
from storage.adapters.base import (
    StorageAdapter,
    StorageAuthFailed,
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUnreachable,
    StorageUsage,
    StorageWriter,
    StoredObject,
    TransientStorageError,
    relative_parts,
)

logger = logging.getLogger(__name__)

# Temporary names end with this, as with the local adapter, so leftovers are never listed.
PARTIAL_SUFFIX = ".partial"

# SFTP version 3 reports "no space left" as a bare SSH_FX_FAILURE. When a write fails that way
# and the file system has less than this free, the disk being full is the likely reason.
_FULL_THRESHOLD = 1024 * 1024

# An RSA public key ("ssh-rsa") is used with the SHA-2 signature algorithms; SHA-1 is obsolete.
_HOST_KEY_ALGORITHMS = {"ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256"]}


class SSHConfig(ConfigSchema):
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=22)
    username = serializers.CharField(max_length=255)
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    private_key = serializers.CharField(
        max_length=32768, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    private_key_passphrase = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    host_key = serializers.CharField(max_length=8192, required=False, allow_blank=True, default="")
    remote_path = AbsolutePathField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not attrs.get("password") and not attrs.get("private_key"):
            raise serializers.ValidationError({"password": ["Give a password or a private_key."]})
        return attrs


class HostKeyMismatch(StorageAuthFailed):
    """The server did not prove it holds the pinned host key: possibly another machine."""


def parse_host_key(line: str) -> tuple[str, bytes]:
    """``(key type, key blob)`` from a known_hosts line or a bare ``type base64`` public key.

    The key type is looked for rather than assumed at a fixed position, so both
    ``host ssh-ed25519 AAAA…`` (what ``ssh-keyscan`` prints) and ``ssh-ed25519 AAAA… comment``
    (a ``.pub`` file) are accepted.
    """
    tokens = line.split()
    for key_type, encoded in itertools.pairwise(tokens):
        if not key_type.startswith(("ssh-", "ecdsa-sha2-")):
            continue
        try:
            blob = base64.b64decode(encoded, validate=True)
        except ValueError:
            continue
        if blob:
            return key_type, blob
    raise StorageError(
        "host_key is not a public key line: expected 'ssh-ed25519 AAAA…' or a line printed by "
        "ssh-keyscan."
    )


def _fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint, the form ``ssh-keygen -lf`` shows."""
    return str(key.fingerprint)


def _load_private_key(text: str, passphrase: str) -> paramiko.PKey:
    """Load a key from its content (OpenSSH or PEM), whatever its type.

    The error never quotes the key or the passphrase; it only says which of the two to check.
    """
    needs_passphrase = False
    key_classes: tuple[type[paramiko.PKey], ...] = (
        paramiko.Ed25519Key,
        paramiko.ECDSAKey,
        paramiko.RSAKey,
    )
    for key_class in key_classes:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException:
            needs_passphrase = True
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    if needs_passphrase and not passphrase:
        raise StorageAuthFailed("The private key is encrypted; give its private_key_passphrase.")
    raise StorageAuthFailed(
        "The private key could not be read: it is not an Ed25519, ECDSA or RSA key in OpenSSH "
        "or PEM format, or the private_key_passphrase is wrong."
    )


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, EOFError | ConnectionError | TimeoutError | paramiko.SSHException)


class _Session:
    """One authenticated connection and its SFTP channel."""

    def __init__(self, transport: paramiko.Transport, sftp: SFTPClient) -> None:
        self.transport = transport
        self.sftp = sftp

    def close(self) -> None:
        with suppress(Exception):
            self.sftp.close()
        with suppress(Exception):
            self.transport.close()


class _SFTPWriter:
    """The ``StorageWriter`` handed out by ``open_write``: appends to the remote temporary file."""

    def __init__(
        self, adapter: SSHAdapter, session: _Session, file: SFTPFile, temp: str, path: str
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
            raise self._adapter._write_error(exc, self._session, self._temp, self._path) from exc
        self.bytes_written += len(data)
        return len(data)


class _SFTPReader(io.RawIOBase):
    """A remote file as a raw stream whose errors are ``StorageError``s, not paramiko's."""

    def __init__(self, adapter: SSHAdapter, session: _Session, file: SFTPFile, path: str) -> None:
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


def _drain_pipelined_writes(file: SFTPFile) -> None:
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


def _create_exclusive(sftp: SFTPClient, path: str, mode: int) -> SFTPFile:
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


def _statvfs_available(sftp: SFTPClient, path: str) -> int | None:
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

    def _open_socket(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except socket.gaierror as exc:
            raise StorageUnreachable(f"Cannot resolve the host name {self.host!r}.") from exc
        except TimeoutError as exc:
            raise StorageUnreachable(
                f"Connecting to {self.host}:{self.port} timed out after {self.connect_timeout:g} s."
            ) from exc
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise StorageUnreachable(
                f"Cannot connect to {self.host}:{self.port}: {reason}."
            ) from exc

    def _pin_host_key_type(self, transport: paramiko.Transport) -> tuple[str, bytes] | None:
        pinned_line = str(self.config.get("host_key") or "").strip()
        if not pinned_line:
            return None
        key_type, blob = parse_host_key(pinned_line)
        try:
            # Ask for the pinned type only: a server with several host keys would otherwise
            # present its preferred one, which would not match an honest pin.
            transport.get_security_options().key_types = _HOST_KEY_ALGORITHMS.get(
                key_type, [key_type]
            )
        except ValueError as exc:
            raise StorageError(f"The host_key type {key_type!r} is not supported.") from exc
        return key_type, blob

    def _verify_host_key(
        self, transport: paramiko.Transport, pinned: tuple[str, bytes] | None
    ) -> None:
        server_key = transport.get_remote_server_key()
        self.last_host_key_fingerprint = _fingerprint(server_key)
        if pinned is None:
            if not self._unpinned_warned:  # once per adapter, not once per chunk
                self._unpinned_warned = True
                logger.warning(
                    "The host key of %s:%s is not pinned; accepted %s. Set host_key to pin it.",
                    self.host,
                    self.port,
                    self.last_host_key_fingerprint,
                )
            return
        if server_key.asbytes() != pinned[1]:
            raise HostKeyMismatch(
                f"The host key of {self.host}:{self.port} ({self.last_host_key_fingerprint}) "
                "does not match the configured host_key; refusing to connect. If the server's "
                "key was changed on purpose, update host_key."
            )

    def _authenticate(self, transport: paramiko.Transport) -> None:
        username = str(self.config["username"])
        password = str(self.config.get("password") or "")
        key_text = str(self.config.get("private_key") or "")
        refused = f"The server {self._where} refused the "
        if key_text:
            key = _load_private_key(key_text, str(self.config.get("private_key_passphrase") or ""))
            try:
                transport.auth_publickey(username, key)
            except paramiko.AuthenticationException as exc:
                if not password:
                    raise StorageAuthFailed(refused + "private key.") from exc
            # Not yet authenticated after an accepted key: the server also wants the password
            # (``AuthenticationMethods publickey,password``).
            if transport.is_authenticated():
                return
        try:
            transport.auth_password(username, password)
        except paramiko.BadAuthenticationType as exc:
            allowed = ", ".join(exc.allowed_types) or "none"
            raise StorageAuthFailed(
                refused + f"password: it accepts only these methods: {allowed}."
            ) from exc
        except paramiko.AuthenticationException as exc:
            what = "private key and the password" if key_text else "password"
            raise StorageAuthFailed(refused + f"{what}.") from exc

    def _connect(self) -> _Session:
        sock = self._open_socket()
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = self.connect_timeout
            transport.handshake_timeout = self.connect_timeout
            transport.auth_timeout = self.connect_timeout
            pinned = self._pin_host_key_type(transport)
            try:
                transport.start_client(timeout=self.connect_timeout)
            except paramiko.SSHException as exc:
                if pinned is not None and "host key" in str(exc).lower():
                    raise HostKeyMismatch(
                        f"{self.host}:{self.port} has no {pinned[0]} host key, the type of the "
                        "configured host_key; refusing to connect."
                    ) from exc
                raise StorageUnreachable(
                    f"{self.host}:{self.port} did not complete an SSH handshake: {exc}"
                ) from exc
            except (EOFError, OSError) as exc:
                raise StorageUnreachable(
                    f"{self.host}:{self.port} closed the connection during the SSH handshake."
                ) from exc
            # start_client returns quietly when its timeout passes, handshake done or not.
            if not transport.is_active() or not getattr(transport, "initial_kex_done", False):
                raise StorageUnreachable(
                    f"{self.host}:{self.port} did not complete an SSH handshake within "
                    f"{self.connect_timeout:g} s."
                )
            self._verify_host_key(transport, pinned)
            try:
                self._authenticate(transport)
            except (EOFError, OSError, paramiko.SSHException) as exc:
                raise StorageUnreachable(
                    f"The connection to {self.host}:{self.port} was lost while authenticating."
                ) from exc
            try:
                sftp = SFTPClient.from_transport(transport)
            except (EOFError, OSError, paramiko.SSHException) as exc:
                raise StorageError(
                    f"{self._where} does not offer SFTP (the sftp subsystem failed: {exc})."
                ) from exc
            if sftp is None:
                raise StorageError(f"{self._where} did not open an SFTP channel.")
            sftp.get_channel().settimeout(self.operation_timeout)  # type: ignore[union-attr]
            return _Session(transport, sftp)
        except BaseException:
            transport.close()
            raise

    @contextmanager
    def _session(self) -> Iterator[_Session]:
        session = self._connect()
        try:
            yield session
        finally:
            session.close()

    def _error(self, exc: BaseException, doing: str, session: _Session) -> StorageError:
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

    def _require_root(self, session: _Session) -> None:
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

    def _lstat(self, session: _Session, remote: str) -> SFTPAttributes | None:
        try:
            return session.sftp.lstat(remote)
        except Exception as exc:
            error = self._error(exc, f"inspect {remote}", session)
            if isinstance(error, StoragePathMissing):
                return None
            raise error from exc

    def _makedirs(self, session: _Session, directory: PurePosixPath) -> None:
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
                file = _create_exclusive(session.sftp, temp, self.file_mode)
            except Exception as exc:
                raise self._error(exc, f"create a temporary file for {path}", session) from exc
            try:
                file.set_pipelined(True)
                writer = _SFTPWriter(self, session, file, temp, path)
                yield writer
                self._finish(session, file, temp, writer.bytes_written, path)
                self._publish(session, temp, target, path)
            except BaseException:
                with suppress(Exception):
                    file.close()
                self._remove_temporary(session, temp)
                raise

    def _finish(
        self, session: _Session, file: SFTPFile, temp: str, expected: int, path: str
    ) -> None:
        """Close the upload and prove the server stored every byte."""
        try:
            file.flush()
            _drain_pipelined_writes(file)
            file.close()
            stored = session.sftp.stat(temp).st_size
        except Exception as exc:
            raise self._write_error(exc, session, temp, path) from exc
        if stored != expected:
            raise StorageError(
                f"{path} was not stored completely on {self._where}: the server has "
                f"{stored} of {expected} bytes."
            )

    def _write_error(
        self, exc: BaseException, session: _Session, temp: str, path: str
    ) -> StorageError:
        error = self._error(exc, f"write {path}", session)
        # SFTP v3 has no "disk full" status: a bare failure on a nearly full disk is one.
        if type(error) is StorageError and session.transport.is_active():
            available = _statvfs_available(session.sftp, str(PurePosixPath(temp).parent))
            if available is not None and available < _FULL_THRESHOLD:
                return StorageFull(
                    f"Could not write {path} on {self._where}: the disk is full "
                    f"({available} bytes left)."
                )
        return error

    def _remove_temporary(self, session: _Session, temp: str) -> None:
        """Best effort: remove an aborted upload, over a new connection if the old one died."""
        try:
            session.sftp.remove(temp)
            return
        except Exception:  # the error that aborted the upload is the one to report
            if session.transport.is_active():
                return  # refused or already gone; the caller's delete of the run will retry
        with suppress(Exception), self._session() as fresh:
            fresh.sftp.remove(temp)

    def _refuse_existing(self, session: _Session, target: PurePosixPath, path: str) -> None:
        # A published backup is immutable: overwriting it would silently replace a good copy
        # with one that has not been verified yet.
        if self._lstat(session, str(target)) is not None:
            raise StorageError(f"{path} already exists; a stored file is never overwritten.")

    def _publish(self, session: _Session, temp: str, target: PurePosixPath, path: str) -> None:
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
            reader = io.BufferedReader(_SFTPReader(self, session, file, path), 1024 * 1024)
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

    def _remove_file(self, session: _Session, remote: str) -> None:
        try:
            session.sftp.remove(remote)
        except Exception as exc:
            error = self._error(exc, f"delete {self._relative(remote)}", session)
            if not isinstance(error, StoragePathMissing):  # gone already: the outcome wanted
                raise error from exc

    def _remove_tree(self, session: _Session, remote: str) -> None:
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

    def _prune_empty_parents(self, session: _Session, directory: PurePosixPath) -> None:
        # Retention deletes runs one by one; without pruning, the per-job and per-date folders
        # would pile up empty forever.
        while directory != self.root and self.root in directory.parents:
            try:
                session.sftp.rmdir(str(directory))
            except Exception:
                return  # not empty, already gone or not ours to remove: stop climbing
            directory = directory.parent

    def _listdir(self, session: _Session, remote: str) -> list[SFTPAttributes]:
        try:
            return session.sftp.listdir_attr(remote)
        except Exception as exc:
            error = self._error(exc, f"read the directory {remote}", session)
            if isinstance(error, StoragePathMissing):
                return []  # removed while we looked: another run's cleanup
            raise error from exc

    def _walk_files(self, session: _Session, top: str) -> Iterator[tuple[str, int]]:
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
            available = _statvfs_available(session.sftp, str(self.root))
        return StorageUsage(used_bytes=used, available_bytes=available)

    def test_connection(self) -> None:
        with self._session() as session:
            self._require_root(session)
            # Really create a file: permission bits alone say nothing about read-only mounts,
            # chroots or ACLs, and a backup would otherwise fail only at its end.
            probe = f"{self.root}/.dataguardian-test.{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
            try:
                _create_exclusive(session.sftp, probe, self.file_mode).close()
            except Exception as exc:
                raise self._error(exc, f"write to {self.root}", session) from exc
            try:
                session.sftp.remove(probe)
            except Exception as exc:
                raise self._error(exc, f"remove a test file from {self.root}", session) from exc
