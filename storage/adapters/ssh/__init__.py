"""SSH/SFTP servers (a NAS, another host).

Each operation opens its own SSH connection and closes it afterwards: backups write a handful of
large files, so the handshake is noise next to the transfer, and no half-dead connection can be
carried from one operation into the next.

``SSHAdapter`` (``adapter``) holds the storage operations over a session that ``connection``
opens and authenticates; ``files`` streams remote files, ``keys`` reads host and private keys,
and ``config`` declares what a location stores (``SSHConfig``).
"""

from storage.adapters.ssh.adapter import SSHAdapter
from storage.adapters.ssh.config import SSHConfig
from storage.adapters.ssh.keys import HostKeyMismatch, parse_host_key

__all__ = ["HostKeyMismatch", "SSHAdapter", "SSHConfig", "parse_host_key"]
