"""Backups of a real PostgreSQL database into a real sshd, restored with docs/RESTORE.md."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.adapters.base import StorageWriter
from storage.adapters.ssh import SSHAdapter
from tests.executions.conftest import (
    DECOMPRESS,
    pg_database,
    pg_table_checksums,
    run_recipe,
    scratch_pg_target,
)
from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.storage.sshd import SSHServer, ssh_root, sshd

__all__ = ["pg_database", "scratch_pg_target", "ssh_root", "sshd"]  # fixtures for pytest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MIB = 1024 * 1024
PG_CONNECTION = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": ""}
# Set on the location but never used to log in (the key is tried first and accepted): it is
# here so the test can prove it leaks nowhere.
UNUSED_PASSWORD = "sftp-password-that-must-not-leak-7314"


@pytest.fixture
def ssh_config(sshd: SSHServer, ssh_root: Path) -> dict[str, Any]:
    """Every secret field filled, so each can be searched for in what the run leaves."""
    return sshd.config(
        ssh_root,
        password=UNUSED_PASSWORD,
        private_key=sshd.rsa_key,
        private_key_passphrase=sshd.rsa_passphrase,
    )


@pytest.fixture
def ssh_job(ssh_config: dict[str, Any], pg_database: str) -> BackupJob:
    datasource = DatasourceFactory.create(
        type="postgres", connection_config={**PG_CONNECTION, "database": pg_database}
    )
    location = StorageLocationFactory.create(type="ssh", config=ssh_config)
    return BackupJobFactory.create(
        datasource=datasource,
        storage_location=location,
        backup_options={"compression": "zstd", "max_file_size_mb": 1},
    )


def _run(job: BackupJob) -> BackupExecution:
    with open("/dev/null", "w") as devnull:
        call_command("backup", str(job.id), stdout=devnull)
    return BackupExecution.objects.filter(job=job).latest("created_at")


def _secrets(config: dict[str, Any]) -> list[str]:
    key_lines = [line for line in config["private_key"].splitlines() if "PRIVATE KEY" not in line]
    return [config["password"], config["private_key_passphrase"], *key_lines[:3]]


def _assert_no_secret(text: str, config: dict[str, Any]) -> None:
    for secret in _secrets(config):
        assert secret not in text


def test_a_postgres_backup_to_sftp_restores_with_the_documented_commands_and_deletes(
    ssh_job: BackupJob,
    ssh_config: dict[str, Any],
    ssh_root: Path,
    pg_database: str,
    scratch_pg_target: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    execution = _run(ssh_job)
    assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
    directory = str(execution.backup_path)
    assert directory.startswith(f"{ssh_job.datasource_id}/{ssh_job.id}/")
    assert directory.endswith(f"-{execution.id}")

    adapter = SSHAdapter(ssh_config)
    stored = {Path(item.path).name: item.size for item in adapter.list_files(directory)}
    chunks = list(execution.chunks.order_by("chunk_number"))
    assert len(chunks) >= 2, "the 1 MB limit should have split the artifact"
    assert set(stored) == {"manifest.json", "SHA256SUMS"} | {Path(c.file_path).name for c in chunks}

    download = tmp_path / "download"
    download.mkdir()
    for name in stored:
        with (
            adapter.open_read(f"{directory}/{name}") as remote,
            (download / name).open("wb") as out,
        ):
            while piece := remote.read(MIB):
                out.write(piece)
        assert (download / name).stat().st_size == stored[name]
    manifest_text = (download / "manifest.json").read_text()
    assert json.loads(manifest_text)["sha256"] == execution.metadata["checksum"]
    run_recipe(
        "postgres",
        download,
        DECOMPRESS=DECOMPRESS["zstd"],
        TARGET_DB=f"postgresql://postgres@127.0.0.1:5432/{scratch_pg_target}",
    )
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)
    _assert_no_secret(manifest_text + caplog.text, ssh_config)

    adapter.delete(directory)
    assert adapter.list_files() == []
    assert [p for p in ssh_root.rglob("*")] == []


@contextmanager
def _cut_after(sshd: SSHServer, limit: int) -> Iterator[dict[str, int]]:
    """Make every SSH upload kill the server's sessions once ``limit`` bytes went out."""
    state = {"written": 0, "cuts": 0}
    real_open_write = SSHAdapter.open_write

    class CuttingWriter:
        def __init__(self, writer: StorageWriter) -> None:
            self._writer = writer

        @property
        def bytes_written(self) -> int:
            return self._writer.bytes_written

        def write(self, data: bytes, /) -> int:
            written = self._writer.write(data)
            state["written"] += written
            if state["written"] >= limit and not state["cuts"]:
                state["cuts"] = sshd.kill_sessions()
            return written

    @contextmanager
    def open_write(self: SSHAdapter, path: str, *, size_hint: int | None = None) -> Any:
        with real_open_write(self, path, size_hint=size_hint) as writer:
            yield CuttingWriter(writer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SSHAdapter, "open_write", open_write)
        yield state


def test_a_connection_dropped_mid_upload_fails_the_run_and_leaves_nothing(
    sshd: SSHServer,
    ssh_job: BackupJob,
    ssh_config: dict[str, Any],
    ssh_root: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Uncompressed, the dump is several MiB, so most of it is still to send after the cut.
    ssh_job.backup_options = {"compression": "none"}
    ssh_job.save()
    with _cut_after(sshd, MIB) as state, pytest.raises(CommandError):
        _run(ssh_job)
    assert state["cuts"] > 0, "the upload never reached the cut"
    execution = BackupExecution.objects.get(job=ssh_job)
    assert execution.status == BackupExecution.Status.FAILED
    message = str(execution.error_message)
    assert "connection" in message
    assert "lost" in message
    assert f"127.0.0.1:{sshd.port}" in message
    assert [p for p in ssh_root.rglob("*") if p.is_file()] == []
    assert not execution.chunks.exists()
    _assert_no_secret(message + str(execution.error_stack) + caplog.text, ssh_config)


def test_a_postgres_backup_on_sftp_restores_through_dataguardian(
    ssh_job: BackupJob, pg_database: str, scratch_pg_target: str
) -> None:
    from executions.restore import perform_restore, restore_execution

    backup = _run(ssh_job)
    assert backup.status == BackupExecution.Status.COMPLETED, backup.error_message
    target = DatasourceFactory.create(
        type="postgres", connection_config={**PG_CONNECTION, "database": scratch_pg_target}
    )
    restore = restore_execution(backup, target_datasource=target, confirm=True)
    assert perform_restore(restore), restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)
