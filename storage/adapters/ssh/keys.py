"""Host keys to pin and private keys to authenticate with."""

from __future__ import annotations

import base64
import io
import itertools

import paramiko

from storage.adapters.base import StorageAuthFailed, StorageError


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


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint, the form ``ssh-keygen -lf`` shows."""
    return str(key.fingerprint)


def load_private_key(text: str, passphrase: str) -> paramiko.PKey:
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
