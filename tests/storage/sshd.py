"""A real OpenSSH server on loopback for the SSH adapter's tests.

The fixtures on top of it (``sshd``, ``ssh_root``, ``user_root``) are in tests/storage/conftest.py.
The daemon runs once per test session on a free high port with throwaway host and client keys, and
a throwaway system user for password logins; everything is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SSHD = "/usr/sbin/sshd"
PASSWORD_USER = "dgsftptest"


@dataclass
class SSHServer:
    """What a test needs to reach the daemon, and a way to cut its live connections."""

    port: int
    pid: int
    host_key_line: str  # "ssh-ed25519 AAAA…", the server's public host key
    ed25519_key: str  # private key content, no passphrase
    rsa_key: str  # private key content, encrypted with rsa_passphrase
    rsa_passphrase: str
    password_user: str
    password: str
    password_user_uid: int
    password_user_gid: int
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self, remote_path: Path | str, **overrides: Any) -> dict[str, Any]:
        """An adapter config logging in as root with the Ed25519 key."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "username": "root",
            "password": "",
            "private_key": self.ed25519_key,
            "private_key_passphrase": "",
            "host_key": self.host_key_line,
            "remote_path": str(remote_path),
            **overrides,
        }

    def session_pids(self) -> list[int]:
        """Every process below the daemon: the per-connection monitors and their children."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        found: list[int] = []
        pending = list(children.get(self.pid, []))
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending.extend(children.get(pid, []))
        return found

    def kill_sessions(self) -> int:
        """SIGKILL every connection the daemon serves, as a network cut or server crash would."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # exited on its own meanwhile
                os.kill(pid, signal.SIGKILL)
        return len(pids)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path, kind: str, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "dataguardian-test", "-f", path],
        check=True,
        capture_output=True,
    )


def _ensure_password_user(password: str) -> tuple[bool, pwd.struct_passwd]:
    """Create the login user if missing; True when this session created it (and removes it)."""
    created = False
    try:
        pwd.getpwnam(PASSWORD_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/bin/sh", PASSWORD_USER],
            check=True,
            capture_output=True,
        )
        created = True
    subprocess.run(["chpasswd"], input=f"{PASSWORD_USER}:{password}\n", text=True, check=True)
    return created, pwd.getpwnam(PASSWORD_USER)


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if conn.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on port {port}: {log.read_text()}")


@contextlib.contextmanager
def running_sshd(
    base: Path, authorized: Path, *, password_auth: bool, settings: str = ""
) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """Run ``sshd`` on a free loopback port with the host key ``base/host_ed25519`` and the
    given ``authorized_keys``, logging root in; yield the port, the process and its log, and
    stop it afterwards. ``settings`` are extra sshd_config lines."""
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"""
Port {port}
ListenAddress 127.0.0.1
HostKey {base / "host_ed25519"}
PidFile {base / "sshd.pid"}
AuthorizedKeysFile {authorized}
UsePAM no
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication {"yes" if password_auth else "no"}
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
{settings}
"""
    )
    # The privilege-separation directory the packaged sshd expects; a bare container lacks it.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = base / "sshd.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_banner(port, process, log)
        yield port, process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def ssh_server(base: Path) -> Iterator[SSHServer]:
    """The test daemon: throwaway host and client keys under ``base`` and a throwaway system
    user for password logins, all removed again on exit. Needs root."""
    _keygen(base / "host_ed25519", "ed25519")
    _keygen(base / "client_ed25519", "ed25519")
    rsa_passphrase = secrets.token_urlsafe(12)
    _keygen(base / "client_rsa", "rsa", rsa_passphrase)
    authorized = base / "authorized_keys"
    authorized.write_text(
        (base / "client_ed25519.pub").read_text() + (base / "client_rsa.pub").read_text()
    )
    authorized.chmod(0o644)
    password = secrets.token_urlsafe(16)
    created_user, user = _ensure_password_user(password)
    try:
        with running_sshd(
            base,
            authorized,
            password_auth=True,
            settings="MaxStartups 50\nMaxAuthTries 10\nLogLevel VERBOSE",
        ) as (port, process, log):
            yield SSHServer(
                port=port,
                pid=process.pid,
                host_key_line=(base / "host_ed25519.pub").read_text().strip(),
                ed25519_key=(base / "client_ed25519").read_text(),
                rsa_key=(base / "client_rsa").read_text(),
                rsa_passphrase=rsa_passphrase,
                password_user=PASSWORD_USER,
                password=password,
                password_user_uid=user.pw_uid,
                password_user_gid=user.pw_gid,
                log=log,
            )
    finally:
        if created_user:
            subprocess.run(["userdel", PASSWORD_USER], check=False, capture_output=True)
