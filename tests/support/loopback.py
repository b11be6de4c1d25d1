"""Real servers on 127.0.0.1 for the channel tests: an HTTP receiver that records what it gets,
an SMTP server (aiosmtpd) that records envelopes, and a throwaway certificate authority.

The fixtures on top of them are in tests/notifications/conftest.py.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message as HeaderMap
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.channels.base import Message

HOST = "127.0.0.1"
SMTP_USER = "alerts@example.org"
SMTP_PASSWORD = "correct-horse-7731"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def sample_message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "id": "0f3c2a9e-8d5b-4c1e-9a7f-2b6d4e8c1a35",
        "type": "backup_failed",
        "severity": "critical",
        "title": "Backup of shop failed",
        "text": "The nightly backup of shop failed: pg_dump exited with status 1.",
        "payload": {
            "type": "backup_failed",
            "severity": "critical",
            "title": "Backup of shop failed",
            "metadata": {"job": "shop nightly", "attempt": 1},
        },
        "created_at": "2026-03-14T02:00:00+00:00",
    }
    return Message(**{**fields, **overrides})


# -- HTTP ------------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: HeaderMap
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class Receiver:
    """A ThreadingHTTPServer on loopback. It records every request, then answers ``status``
    (or ``status_of[path]``) with ``reply`` and ``reply_headers``, or, when ``hang`` is set,
    never answers. ``script`` answers the n-th request with its n-th status instead (the
    last one repeating; None: no answer)."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    reply: bytes = b'{"ok":true}'
    reply_headers: dict[str, str] = field(default_factory=dict)
    status_of: dict[str, int] = field(default_factory=dict)
    hang: bool = False
    script: list[int | None] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The requests received, once there are ``count`` of them or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)

    def _status(self, path: str) -> int | None:
        if self.script:
            return self.script[min(len(self.requests), len(self.script)) - 1]
        if self.hang:
            return None
        return self.status_of.get(path, self.status)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook", userinfo: str = "") -> str:
        return f"http://{userinfo}{HOST}:{self.port}{path}"

    def answer(self, status: int, reply: bytes = b"", **headers: str) -> None:
        self.status, self.reply, self.reply_headers = status, reply, headers

    @property
    def last(self) -> Received:
        assert self.requests, "the receiver got no request"
        return self.requests[-1]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.command, self.path, self.headers, body))
            status = receiver._status(self.path)
            if status is None:
                receiver.released.wait(60)
                return
            self.send_response(status)
            for name, value in receiver.reply_headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(receiver.reply)))
            self.end_headers()
            self.wfile.write(receiver.reply)

        do_POST = do_GET = do_PUT = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_receiver(script: list[int | None] | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer((HOST, 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    receiver = Receiver(server, script=list(script or []))
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever reads or answers."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


# -- TLS -------------------------------------------------------------------------------------


@dataclass
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DataGuardian test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


# -- SMTP ------------------------------------------------------------------------------------


@dataclass
class Delivered:
    """One message the SMTP server accepted, and how the client got there."""

    envelope: Envelope
    encrypted: bool
    login: str | None


@dataclass
class MailRecorder:
    """An aiosmtpd handler: records every message; ``refuse`` maps recipients to the reply
    their RCPT gets, ``data_reply`` replaces the DATA answer."""

    delivered: list[Delivered] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str = "250 2.0.0 Ok: queued as 4F2A1"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.data_reply.startswith("250"):
            return self.data_reply
        transport = server.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        credentials = session.auth_data if session.authenticated else None
        login = credentials.login.decode() if isinstance(credentials, LoginPassword) else None
        self.delivered.append(Delivered(envelope, encrypted, login))
        return self.data_reply


def check_password(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass
class MailServer:
    port: int
    recorder: MailRecorder

    @property
    def last(self) -> Delivered:
        assert self.recorder.delivered, "the SMTP server accepted no message"
        return self.recorder.delivered[-1]

    def config(self, **overrides: Any) -> dict[str, Any]:
        return {
            "host": HOST,
            "port": self.port,
            "security": "none",
            "username": "",
            "password": "",
            "from_email": "dataguardian@example.org",
            "to": ["ops@example.org", "oncall@example.org"],
            **overrides,
        }


@contextmanager
def smtp_server(**smtp_options: Any) -> Iterator[MailServer]:
    """aiosmtpd on a free loopback port; ``smtp_options`` go to its SMTP class (tls_context,
    authenticator, auth_required…) and ``ssl_context`` makes it implicit TLS."""
    recorder = MailRecorder()
    port = free_port()
    controller = Controller(
        recorder, hostname=HOST, port=port, server_hostname="mail.test", **smtp_options
    )
    controller.start()
    try:
        yield MailServer(port, recorder)
    finally:
        controller.stop()
