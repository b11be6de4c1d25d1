"""Opening an authenticated SFTP session: socket, SSH handshake, host key, authentication.

Authentication is explicit only: the configured key and/or password. No SSH agent and no
``~/.ssh`` key files of the worker's user are consulted (``paramiko.Transport`` is used directly,
not ``SSHClient``), so a backup never authenticates with credentials the operator did not give.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

import paramiko
from paramiko.sftp_client import SFTPClient

from storage.adapters.base import StorageAuthFailed, StorageError, StorageUnreachable
from storage.adapters.ssh.files import Session
from storage.adapters.ssh.keys import (
    HostKeyMismatch,
    fingerprint,
    load_private_key,
    parse_host_key,
)

if TYPE_CHECKING:
    from storage.adapters.ssh.adapter import SSHAdapter

logger = logging.getLogger(__name__)

# An RSA public key ("ssh-rsa") is used with the SHA-2 signature algorithms; SHA-1 is obsolete.
_HOST_KEY_ALGORITHMS = {"ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256"]}


def connect(adapter: SSHAdapter) -> Session:
    """A new session to the adapter's server, with its credentials, timeouts and host key."""
    sock = _open_socket(adapter)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = adapter.connect_timeout
        transport.handshake_timeout = adapter.connect_timeout
        transport.auth_timeout = adapter.connect_timeout
        pinned = _pin_host_key_type(adapter, transport)
        try:
            transport.start_client(timeout=adapter.connect_timeout)
        except paramiko.SSHException as exc:
            if pinned is not None and "host key" in str(exc).lower():
                raise HostKeyMismatch(
                    f"{adapter.host}:{adapter.port} has no {pinned[0]} host key, the type of the "
                    "configured host_key; refusing to connect."
                ) from exc
            raise StorageUnreachable(
                f"{adapter.host}:{adapter.port} did not complete an SSH handshake: {exc}"
            ) from exc
        except (EOFError, OSError) as exc:
            raise StorageUnreachable(
                f"{adapter.host}:{adapter.port} closed the connection during the SSH handshake."
            ) from exc
        # start_client returns quietly when its timeout passes, handshake done or not.
        if not transport.is_active() or not getattr(transport, "initial_kex_done", False):
            raise StorageUnreachable(
                f"{adapter.host}:{adapter.port} did not complete an SSH handshake within "
                f"{adapter.connect_timeout:g} s."
            )
        _verify_host_key(adapter, transport, pinned)
        try:
            _authenticate(adapter, transport)
        except (EOFError, OSError, paramiko.SSHException) as exc:
            raise StorageUnreachable(
                f"The connection to {adapter.host}:{adapter.port} was lost while authenticating."
            ) from exc
        try:
            sftp = SFTPClient.from_transport(transport)
        except (EOFError, OSError, paramiko.SSHException) as exc:
            raise StorageError(
                f"{adapter._where} does not offer SFTP (the sftp subsystem failed: {exc})."
            ) from exc
        if sftp is None:
            raise StorageError(f"{adapter._where} did not open an SFTP channel.")
        sftp.get_channel().settimeout(adapter.operation_timeout)  # type: ignore[union-attr]
        return Session(transport, sftp)
    except BaseException:
        transport.close()
        raise


def _open_socket(adapter: SSHAdapter) -> socket.socket:
    host, port = adapter.host, adapter.port
    try:
        return socket.create_connection((host, port), timeout=adapter.connect_timeout)
    except socket.gaierror as exc:
        raise StorageUnreachable(f"Cannot resolve the host name {host!r}.") from exc
    except TimeoutError as exc:
        raise StorageUnreachable(
            f"Connecting to {host}:{port} timed out after {adapter.connect_timeout:g} s."
        ) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageUnreachable(f"Cannot connect to {host}:{port}: {reason}.") from exc


def _pin_host_key_type(
    adapter: SSHAdapter, transport: paramiko.Transport
) -> tuple[str, bytes] | None:
    pinned_line = str(adapter.config.get("host_key") or "").strip()
    if not pinned_line:
        return None
    key_type, blob = parse_host_key(pinned_line)
    try:
        # Ask for the pinned type only: a server with several host keys would otherwise
        # present its preferred one, which would not match an honest pin.
        transport.get_security_options().key_types = _HOST_KEY_ALGORITHMS.get(key_type, [key_type])
    except ValueError as exc:
        raise StorageError(f"The host_key type {key_type!r} is not supported.") from exc
    return key_type, blob


def _verify_host_key(
    adapter: SSHAdapter, transport: paramiko.Transport, pinned: tuple[str, bytes] | None
) -> None:
    server_key = transport.get_remote_server_key()
    adapter.last_host_key_fingerprint = fingerprint(server_key)
    if pinned is None:
        if not adapter._unpinned_warned:  # once per adapter, not once per chunk
            adapter._unpinned_warned = True
            logger.warning(
                "The host key of %s:%s is not pinned; accepted %s. Set host_key to pin it.",
                adapter.host,
                adapter.port,
                adapter.last_host_key_fingerprint,
            )
        return
    if server_key.asbytes() != pinned[1]:
        raise HostKeyMismatch(
            f"The host key of {adapter.host}:{adapter.port} ({adapter.last_host_key_fingerprint}) "
            "does not match the configured host_key; refusing to connect. If the server's "
            "key was changed on purpose, update host_key."
        )


def _authenticate(adapter: SSHAdapter, transport: paramiko.Transport) -> None:
    config = adapter.config
    username = str(config["username"])
    password = str(config.get("password") or "")
    key_text = str(config.get("private_key") or "")
    refused = f"The server {adapter._where} refused the "
    if key_text:
        key = load_private_key(key_text, str(config.get("private_key_passphrase") or ""))
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
