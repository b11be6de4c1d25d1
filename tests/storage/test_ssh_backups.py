"""Backups of a real PostgreSQL database into a real sshd, restored with docs/RESTORE.md."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError

from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.adapters.ssh import SSHAdapter
from tests.storage.backups import (
    MIB,
    cut_after,
    make_pg_job,
    restore_by_hand,
    restore_through_dataguardian,
    run_backup,
)
from tests.storage.sshd import SSHServer

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

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
    return make_pg_job(pg_database, "ssh", ssh_config, max_file_size_mb=1)


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
    execution = run_backup(ssh_job)
    adapter = SSHAdapter(ssh_config)
    manifest_text = restore_by_hand(
        adapter, execution, tmp_path / "download", pg_database, scratch_pg_target
    )
    _assert_no_secret(manifest_text + caplog.text, ssh_config)

    adapter.delete(str(execution.backup_path))
    assert adapter.list_files() == []
    assert [p for p in ssh_root.rglob("*")] == []


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
    with cut_after(SSHAdapter, MIB, sshd.kill_sessions) as state, pytest.raises(CommandError):
        run_backup(ssh_job)
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
    restore_through_dataguardian(run_backup(ssh_job), pg_database, scratch_pg_target)
