"""Fixtures of the storage tests: a moto server on loopback with fresh buckets, and a real sshd."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.s3server import AuthServer, MotoServer, moto_auth_server, moto_server
from tests.storage.sshd import SSHServer, ssh_server


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's S3 without authentication: any key is accepted."""
    with moto_server() as server:
        yield server


@pytest.fixture
def s3_bucket(moto: MotoServer) -> str:
    return moto.create_bucket()


@pytest.fixture(scope="session")
def moto_auth() -> Iterator[AuthServer]:
    """Users and bucket are made while moto still accepts anything; then auth is switched on."""
    with moto_auth_server() as server:
        yield server


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    if os.geteuid() != 0:
        pytest.fail(
            "The SSH adapter tests start sshd and create a throwaway login user: run them as "
            "root (as the test container does)."
        )
    with ssh_server(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def ssh_root(tmp_path: Path) -> Iterator[Path]:
    """A fresh remote root for one test (the server is local, so it is a local directory)."""
    root = tmp_path / "remote"
    root.mkdir()
    yield root
    # Directories a test made read-only must not stop pytest from cleaning up.
    for directory in [root, *root.rglob("*")]:
        if directory.is_dir() and not directory.is_symlink():
            directory.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def user_root(sshd: SSHServer) -> Iterator[Path]:
    """A remote root owned by the password user, outside pytest's root-only temp tree."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="dg-sftp-", dir="/tmp"))
    base.chmod(0o755)
    root = base / "remote"
    root.mkdir()
    os.chown(root, sshd.password_user_uid, sshd.password_user_gid)
    yield root
    shutil.rmtree(base, ignore_errors=True)
