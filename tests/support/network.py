"""Loopback network helpers: a port nothing listens on."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port
