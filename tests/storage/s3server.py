"""A real S3 endpoint on loopback: moto's server in a subprocess (optionally checking signatures
and IAM policies), and a proxy that can cut it.

The server is a separate process so a test can stop it or cut its connections mid-upload, and
so its memory (it keeps every object) is not counted as the adapter's.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import boto3.session
import requests

REGION = "us-east-1"
FAKE_KEY = "testing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """A TCP connect, not a request: with IAM auth on, every S3/IAM request counts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("moto server did not start listening in time")


@dataclass
class MotoServer:
    """One ``python -m moto.server`` process on a free loopback port."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "s3", key: str = FAKE_KEY, secret: str = FAKE_KEY) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def create_bucket(self) -> str:
        name = f"dg-test-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def require_auth(self) -> None:
        """From now on every request must be signed by a key created through moto's IAM."""
        answer = requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=10)
        answer.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = MotoServer(port, process)
    try:
        _wait_for_port(port, process)
        yield server
    finally:
        server.stop()


WRITER_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
READER_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    ],
}


@dataclass(frozen=True)
class AccessKey:
    key_id: str
    secret: str


@dataclass(frozen=True)
class AuthServer:
    """A moto server that checks signatures and IAM policies, with one bucket and two users."""

    server: MotoServer
    bucket: str
    writer: AccessKey
    reader: AccessKey


def _user(server: MotoServer, name: str, policy: dict[str, Any]) -> AccessKey:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="storage", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return AccessKey(key["AccessKeyId"], key["SecretAccessKey"])


@contextmanager
def moto_auth_server() -> Iterator[AuthServer]:
    """Users and bucket are made while moto still accepts anything; then auth is switched on."""
    with moto_server() as server:
        bucket = server.create_bucket()
        writer = _user(server, "dg-writer", WRITER_POLICY)
        reader = _user(server, "dg-reader", READER_POLICY)
        server.require_auth()
        yield AuthServer(server, bucket, writer, reader)


@dataclass
class CuttableProxy:
    """A TCP proxy on loopback in front of the server that can refuse uploads.

    While ``drop_puts`` is above zero, each connection whose next request starts with ``PUT``
    (an object or a part upload) is closed before the request reaches the server, as a network
    that drops mid-upload would; other requests (listing, aborting, deleting) pass, so cleanup
    can be observed. ``dropped`` counts the requests refused.
    """

    upstream_port: int
    port: int = 0
    drop_puts: float = 0
    dropped: int = 0
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Refuse every upload from now on."""
        self.drop_puts = float("inf")

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests_side: bool) -> None:
        try:
            while data := source.recv(256 * 1024):
                if requests_side and data.startswith(b"PUT ") and self._take_drop():
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drop_puts <= 0:
                return False
            self.drop_puts -= 1
            self.dropped += 1
            return True

    def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.close()


@contextmanager
def cuttable_proxy(upstream_port: int) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(upstream_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


def adapter_config(
    kind: str,
    url: str,
    bucket: str,
    *,
    key: str = FAKE_KEY,
    secret: str = FAKE_KEY,
    prefix: str = "",
) -> dict[str, Any]:
    """A valid ``config`` of storage type ``kind`` pointing at the endpoint ``url``."""
    if kind == "s3":
        return {
            "endpoint": url,
            "bucket": bucket,
            "region": REGION,
            "access_key_id": key,
            "secret_access_key": secret,
            "prefix": prefix,
        }
    if kind == "minio":
        return {
            "endpoint": url.removeprefix("http://"),
            "use_ssl": False,
            "bucket": bucket,
            "access_key": key,
            "secret_key": secret,
            "prefix": prefix,
        }
    if kind == "backblaze":
        return {
            "bucket_id": "4a48fe8875c6214145260818",
            "bucket_name": bucket,
            "application_key_id": key,
            "application_key": secret,
            "region": REGION,
            "endpoint": url,
            "prefix": prefix,
        }
    raise ValueError(kind)
