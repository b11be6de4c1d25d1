"""SSHAdapter against a real OpenSSH sshd on loopback: auth, commit-or-abort writes, errors."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from paramiko.sftp_client import SFTPClient

from storage.adapters.base import (
    StorageAuthFailed,
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUnreachable,
    StoredObject,
    TransientStorageError,
)
from storage.adapters.ssh import HostKeyMismatch, SSHAdapter
from tests.storage.sshd import SSHServer, free_port

MIB = 1024 * 1024


@pytest.fixture
def adapter(sshd: SSHServer, ssh_root: Path) -> SSHAdapter:
    return SSHAdapter(sshd.config(ssh_root))


@pytest.fixture
def tiny_disk(ssh_root: Path) -> Iterator[Path]:
    """A real 1 MiB file system, so "disk full" is the kernel's ENOSPC on the server."""
    mountpoint = ssh_root / "tiny"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountpoint], check=True)
    yield mountpoint
    subprocess.run(["umount", mountpoint], check=True)


def files_under(directory: Path) -> list[str]:
    """Every file below ``directory``, hidden ones included, as relative POSIX paths."""
    return sorted(
        (Path(parent) / name).relative_to(directory).as_posix()
        for parent, _, names in os.walk(directory)
        for name in names
    )


def write(adapter: SSHAdapter, path: str, data: bytes) -> None:
    with adapter.open_write(path) as writer:
        writer.write(data)


def read(adapter: SSHAdapter, path: str) -> bytes:
    with adapter.open_read(path) as file:
        return file.read()


def round_trip(adapter: SSHAdapter) -> None:
    """Write, list, check, read back and delete a file, asserting each step."""
    data = os.urandom(3 * MIB + 4321)
    write(adapter, "ds/job/run/backup.dump", data)
    assert adapter.list_files() == [StoredObject("ds/job/run/backup.dump", len(data))]
    assert adapter.exists("ds/job/run/backup.dump")
    assert read(adapter, "ds/job/run/backup.dump") == data
    adapter.delete("ds/job/run/backup.dump")
    assert not adapter.exists("ds/job/run/backup.dump")
    assert adapter.list_files() == []


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


# -- authentication --------------------------------------------------------------------------


def test_an_ed25519_key_writes_lists_reads_and_deletes(adapter: SSHAdapter) -> None:
    round_trip(adapter)


def test_a_password_login_writes_lists_reads_and_deletes(sshd: SSHServer, user_root: Path) -> None:
    config = sshd.config(
        user_root, username=sshd.password_user, password=sshd.password, private_key=""
    )
    round_trip(SSHAdapter(config))


def test_a_passphrase_protected_rsa_key_writes_lists_reads_and_deletes(
    sshd: SSHServer, ssh_root: Path
) -> None:
    config = sshd.config(
        ssh_root, private_key=sshd.rsa_key, private_key_passphrase=sshd.rsa_passphrase
    )
    round_trip(SSHAdapter(config))


def test_an_encrypted_key_without_its_passphrase_is_an_auth_failure(
    sshd: SSHServer, ssh_root: Path
) -> None:
    adapter = SSHAdapter(sshd.config(ssh_root, private_key=sshd.rsa_key))
    with pytest.raises(StorageAuthFailed, match="passphrase"):
        adapter.test_connection()


def test_a_wrong_password_is_an_auth_failure_that_does_not_echo_it(
    sshd: SSHServer, user_root: Path
) -> None:
    wrong = "not-the-password-8451"
    config = sshd.config(user_root, username=sshd.password_user, password=wrong, private_key="")
    with pytest.raises(StorageAuthFailed) as raised:
        SSHAdapter(config).test_connection()
    assert wrong not in str(raised.value)


def test_a_key_the_server_does_not_know_is_an_auth_failure(
    sshd: SSHServer, ssh_root: Path, tmp_path: Path
) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "stranger"], check=True
    )
    stranger = (tmp_path / "stranger").read_text()
    with pytest.raises(StorageAuthFailed, match="refused the private key"):
        SSHAdapter(sshd.config(ssh_root, private_key=stranger)).test_connection()


def test_a_refused_key_falls_back_to_the_password(
    sshd: SSHServer, user_root: Path, tmp_path: Path
) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "stranger"], check=True
    )
    config = sshd.config(
        user_root,
        username=sshd.password_user,
        password=sshd.password,
        private_key=(tmp_path / "stranger").read_text(),
    )
    SSHAdapter(config).test_connection()


# -- host key ------------------------------------------------------------------------------


def test_a_host_key_that_does_not_match_the_pin_is_refused(
    sshd: SSHServer, ssh_root: Path, tmp_path: Path
) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "other"], check=True
    )
    other = (tmp_path / "other.pub").read_text().strip()
    adapter = SSHAdapter(sshd.config(ssh_root, host_key=f"127.0.0.1 {other}"))
    with pytest.raises(HostKeyMismatch, match="does not match"):
        adapter.test_connection()
    assert files_under(ssh_root) == []


def test_a_pinned_key_type_the_server_lacks_is_refused(sshd: SSHServer, ssh_root: Path) -> None:
    # A valid RSA public key blob the server does not have; the daemon offers only Ed25519.
    public = paramiko.RSAKey.generate(1024).get_base64()
    adapter = SSHAdapter(sshd.config(ssh_root, host_key=f"ssh-rsa {public}"))
    with pytest.raises(HostKeyMismatch, match="no ssh-rsa host key"):
        adapter.test_connection()


def test_a_known_hosts_line_as_printed_by_ssh_keyscan_is_accepted(
    sshd: SSHServer, ssh_root: Path
) -> None:
    scanned = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", str(sshd.port), "127.0.0.1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    SSHAdapter(sshd.config(ssh_root, host_key=scanned)).test_connection()


def test_an_unpinned_host_key_is_accepted_with_one_warning_and_its_fingerprint_exposed(
    sshd: SSHServer, ssh_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = SSHAdapter(sshd.config(ssh_root, host_key=""))
    with caplog.at_level(logging.WARNING, logger="storage.adapters.ssh"):
        adapter.test_connection()
        adapter.test_connection()
    assert len([m for m in caplog.messages if "not pinned" in m]) == 1
    (tmp_path / "server.pub").write_text(sshd.host_key_line + "\n")
    listed = subprocess.run(
        ["ssh-keygen", "-lf", tmp_path / "server.pub"], capture_output=True, text=True, check=True
    ).stdout
    assert adapter.last_host_key_fingerprint is not None
    assert listed.split()[1] == adapter.last_host_key_fingerprint


# -- reachability and test_connection ------------------------------------------------------


def test_a_closed_port_is_unreachable(sshd: SSHServer, ssh_root: Path) -> None:
    adapter = SSHAdapter(sshd.config(ssh_root, port=free_port()))
    with pytest.raises(StorageUnreachable, match="Cannot connect"):
        adapter.test_connection()


def test_a_server_that_never_answers_is_unreachable_within_the_timeout(
    sshd: SSHServer, ssh_root: Path
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the handshake; nothing ever speaks
        adapter = SSHAdapter(sshd.config(ssh_root, port=silent.getsockname()[1]))
        adapter.connect_timeout = 1.0
        started = time.monotonic()
        with pytest.raises(StorageUnreachable):
            adapter.test_connection()
        assert time.monotonic() - started < 5


def test_test_connection_passes_and_leaves_no_probe_file(adapter: SSHAdapter, ssh_root: Path):
    adapter.test_connection()
    assert files_under(ssh_root) == []


def test_a_missing_remote_path_is_path_missing(sshd: SSHServer, ssh_root: Path) -> None:
    adapter = SSHAdapter(sshd.config(ssh_root / "not-mounted"))
    with pytest.raises(StoragePathMissing, match="does not exist"):
        adapter.test_connection()


def test_a_read_only_directory_is_permission_denied(sshd: SSHServer, user_root: Path) -> None:
    user_root.chmod(0o555)
    config = sshd.config(
        user_root, username=sshd.password_user, password=sshd.password, private_key=""
    )
    with pytest.raises(StoragePermissionDenied):
        SSHAdapter(config).test_connection()


# -- commit-or-abort writes ----------------------------------------------------------------


def test_written_files_and_created_directories_are_private(
    adapter: SSHAdapter, ssh_root: Path
) -> None:
    write(adapter, "a/b/backup.dump", b"secret rows")
    assert stat.S_IMODE((ssh_root / "a/b/backup.dump").stat().st_mode) == 0o600
    assert stat.S_IMODE((ssh_root / "a").stat().st_mode) == 0o700


def test_an_exception_inside_the_writer_leaves_no_file(adapter: SSHAdapter, ssh_root: Path):
    with (  # noqa: PT012 - the writer's whole block is what is under test
        pytest.raises(RuntimeError, match="engine died"),
        adapter.open_write("run/backup.dump") as writer,
    ):
        writer.write(os.urandom(2 * MIB))
        raise RuntimeError("engine died")
    assert files_under(ssh_root) == []


def test_writing_over_an_existing_file_fails_and_keeps_the_original(
    adapter: SSHAdapter, ssh_root: Path
) -> None:
    write(adapter, "run/manifest.json", b"original")
    with pytest.raises(StorageError, match="never overwritten"):
        write(adapter, "run/manifest.json", b"replacement")
    assert (ssh_root / "run/manifest.json").read_bytes() == b"original"
    assert files_under(ssh_root) == ["run/manifest.json"]


def test_a_missing_root_is_not_created_by_a_write(sshd: SSHServer, ssh_root: Path) -> None:
    adapter = SSHAdapter(sshd.config(ssh_root / "unmounted"))
    with pytest.raises(StoragePathMissing):
        write(adapter, "run/backup.dump", b"x")
    assert not (ssh_root / "unmounted").exists()


def test_paths_that_leave_the_root_are_refused(adapter: SSHAdapter) -> None:
    for path in ["/etc/passwd", "../outside", "a/../../b", "nul\x00byte"]:
        with pytest.raises(StorageError):
            write(adapter, path, b"x")


def test_a_disk_full_refusal_reported_only_at_close_fails_the_write(
    sshd: SSHServer, tiny_disk: Path
) -> None:
    """1.5 MiB in 32 KiB pipelined requests stays under paramiko's drain threshold, so the
    server's ENOSPC replies arrive only when the file is closed."""
    adapter = SSHAdapter(sshd.config(tiny_disk))
    with pytest.raises(StorageFull, match="disk is full"):
        write(adapter, "backup.dump", os.urandom(3 * MIB // 2))
    assert files_under(tiny_disk) == []


def test_a_file_the_server_stored_short_is_not_published(
    adapter: SSHAdapter, ssh_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size check after close, exercised by faking the server's stat answer: no real
    server here can be made to store fewer bytes while acknowledging every write."""
    real_stat = SFTPClient.stat

    def short_stat(self: SFTPClient, path: str) -> Any:
        attributes = real_stat(self, path)
        if path.endswith(".partial"):
            attributes.st_size = (attributes.st_size or 0) - 1
        return attributes

    monkeypatch.setattr(SFTPClient, "stat", short_stat)
    with pytest.raises(StorageError, match="not stored completely"):
        write(adapter, "run/backup.dump", b"0123456789")
    assert files_under(ssh_root) == []


def test_a_connection_cut_mid_upload_is_transient_and_leaves_no_file(
    sshd: SSHServer, adapter: SSHAdapter, ssh_root: Path
) -> None:
    with (  # noqa: PT012 - the writer's whole block is what is under test
        pytest.raises(TransientStorageError, match="connection"),
        adapter.open_write("run/backup.dump") as writer,
    ):
        writer.write(os.urandom(4 * MIB))
        assert sshd.kill_sessions() > 0
        for _ in range(32):
            writer.write(os.urandom(MIB))
    assert files_under(ssh_root) == []


# -- reading, listing, deleting ------------------------------------------------------------


def test_reading_a_missing_file_is_path_missing(adapter: SSHAdapter) -> None:
    with pytest.raises(StoragePathMissing):
        read(adapter, "nothing/here.dump")


def test_listing_skips_temporaries_and_symlinks(adapter: SSHAdapter, ssh_root: Path) -> None:
    write(adapter, "run/b.dump", b"bb")
    write(adapter, "run/a.dump", b"a")
    (ssh_root / "run/.c.dump.1234.partial").write_bytes(b"half")
    (ssh_root / "run/link").symlink_to("/etc/passwd")
    assert adapter.list_files() == [StoredObject("run/a.dump", 1), StoredObject("run/b.dump", 2)]
    assert adapter.list_files("run/a.dump") == [StoredObject("run/a.dump", 1)]
    assert adapter.list_files("elsewhere") == []


def test_deleting_a_run_directory_removes_its_tree_and_empty_parents(
    adapter: SSHAdapter, ssh_root: Path
) -> None:
    write(adapter, "ds/job/run1/part001", b"1")
    write(adapter, "ds/job/run1/sub/part002", b"2")
    (ssh_root / "ds/job/run1/.part003.99.partial").write_bytes(b"3")
    write(adapter, "ds/other/run/part001", b"4")
    adapter.delete("ds/job/run1")
    assert files_under(ssh_root) == ["ds/other/run/part001"]
    assert not (ssh_root / "ds/job").exists()
    assert ssh_root.is_dir()


def test_deleting_the_last_file_prunes_parents_but_keeps_the_root(
    adapter: SSHAdapter, ssh_root: Path
) -> None:
    write(adapter, "ds/job/run/part001", b"1")
    adapter.delete("ds/job/run/part001")
    assert list(ssh_root.iterdir()) == []


def test_deleting_a_missing_path_is_not_an_error(adapter: SSHAdapter) -> None:
    adapter.delete("never/written")
    assert not adapter.exists("never/written")


def test_usage_counts_files_and_matches_statvfs(adapter: SSHAdapter, ssh_root: Path) -> None:
    write(adapter, "run/a", b"x" * 1000)
    write(adapter, "run/b", b"y" * 234)
    usage = adapter.usage()
    local = os.statvfs(ssh_root)
    assert usage.used_bytes == 1234
    assert usage.available_bytes is not None
    # Other tests write to the same disk meanwhile; allow a little drift.
    assert abs(usage.available_bytes - local.f_bavail * local.f_frsize) < 64 * MIB


@pytest.mark.slow
def test_a_200_mib_upload_streams_in_bounded_memory(
    adapter: SSHAdapter, ssh_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = hashlib.sha256()
    baseline = peak = rss_bytes()
    started = time.monotonic()
    with adapter.open_write("big/backup.dump") as writer:
        for _ in range(200):
            piece = os.urandom(MIB)
            digest.update(piece)
            writer.write(piece)
            peak = max(peak, rss_bytes())
    seconds = time.monotonic() - started
    stored = ssh_root / "big/backup.dump"
    assert stored.stat().st_size == 200 * MIB
    with stored.open("rb") as file:
        assert hashlib.file_digest(file, "sha256").hexdigest() == digest.hexdigest()
    growth = (peak - baseline) / MIB
    with capsys.disabled():
        print(f"\nSFTP upload: {200 / seconds:.1f} MiB/s, RSS growth {growth:.1f} MiB")
    assert growth < 40
