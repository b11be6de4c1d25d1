"""What a restore refuses: damaged artifacts, unconfirmed overwrites, mismatched targets."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from executions import artifact
from executions import progress as progress_module
from executions import restore as restore_module
from executions.models import BackupExecution
from executions.pipeline.compression import open_decompressed
from executions.restore import RestoreRefused, perform_restore, restore_execution
from notifications.models import Notification
from tests.support.databases import PG_CONNECTION, pg_table_checksums
from tests.support.jobs import artifact_dir

pytestmark = pytest.mark.django_db


def _sqlite_db(path: Path, rows: int) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(rows)])
    conn.close()
    return path


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM t").fetchone()
    conn.close()
    return int(count)


@pytest.fixture
def chunked_pg_backup(backup_of, pg_database):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database}, max_file_size_mb=1)
    assert backup.chunks.count() >= 2
    return backup


def _restore_into(backup, target) -> BackupExecution:
    execution = restore_execution(backup, target_datasource=target, options={}, confirm=True)
    perform_restore(execution)
    execution.refresh_from_db()
    return execution


def test_a_flipped_bit_in_a_chunk_fails_before_the_target_is_touched(
    chunked_pg_backup, datasource_of, scratch_pg_target
):
    chunk = chunked_pg_backup.chunks.order_by("chunk_number").last()
    path = artifact_dir(chunked_pg_backup) / Path(chunk.file_path).name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore_into(chunked_pg_backup, target)
    assert restore.status == BackupExecution.Status.FAILED
    assert f"Chunk {chunk.chunk_number}" in str(restore.error_message)
    assert "corrupt" in str(restore.error_message)
    assert pg_table_checksums(scratch_pg_target) == {}


def test_a_missing_chunk_fails_before_the_target_is_touched(
    chunked_pg_backup, datasource_of, scratch_pg_target
):
    chunk = chunked_pg_backup.chunks.order_by("chunk_number").last()
    (artifact_dir(chunked_pg_backup) / Path(chunk.file_path).name).unlink()
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore_into(chunked_pg_backup, target)
    assert restore.status == BackupExecution.Status.FAILED
    assert "missing" in str(restore.error_message)
    assert pg_table_checksums(scratch_pg_target) == {}


def test_a_corrupt_sqlite_artifact_leaves_the_target_file_unchanged(backup_of, tmp_path):
    source = _sqlite_db(tmp_path / "app.db", 500)
    backup = backup_of("sqlite", {"file_path": str(source)}, compression="none")
    (artifact_dir(backup) / "backup.db").write_bytes(b"not the backup")
    target = _sqlite_db(tmp_path / "target.db", 7)
    before = target.read_bytes()
    execution = restore_execution(backup, target_path=str(target), options={}, confirm=True)
    assert not perform_restore(execution)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".target")) == []


def test_a_failed_restore_records_a_critical_notification(
    chunked_pg_backup, datasource_of, scratch_pg_target
):
    chunk = chunked_pg_backup.chunks.order_by("chunk_number").first()
    (artifact_dir(chunked_pg_backup) / Path(chunk.file_path).name).write_bytes(b"x")
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore_into(chunked_pg_backup, target)
    notification = Notification.objects.get(type="restore_failed", entity_id=restore.id)
    assert notification.severity == "critical"
    assert restore.error_message
    assert restore.error_message in notification.message


def test_restoring_over_a_datasource_without_confirm_is_refused(backup_of, tmp_path):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    with pytest.raises(RestoreRefused, match="confirm"):
        restore_execution(backup, options={}, confirm=False)
    assert not BackupExecution.objects.filter(kind=BackupExecution.Kind.RESTORE).exists()


def test_restoring_into_a_datasource_of_another_type_is_refused(backup_of, datasource_of, tmp_path):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    other = datasource_of("files", {"source_path": str(tmp_path)})
    with pytest.raises(RestoreRefused, match="files datasource"):
        restore_execution(backup, target_datasource=other, options={}, confirm=True)


def test_only_a_completed_backup_can_be_restored(backup_of, tmp_path):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    BackupExecution.objects.filter(pk=backup.pk).update(status="failed")
    backup.refresh_from_db()
    with pytest.raises(RestoreRefused, match="Only completed backups"):
        restore_execution(backup, options={}, confirm=True)


def test_the_password_never_reaches_the_error_or_the_log(
    backup_of, datasource_of, pg_database, scratch_pg_target, caplog
):
    backup = backup_of("postgres", {**PG_CONNECTION, "database": pg_database})
    password = "s3cret-Pa55:word"
    target = datasource_of(
        "postgres",
        {
            **PG_CONNECTION,
            "username": "no_such_role",
            "password": password,
            "database": scratch_pg_target,
        },
    )
    with caplog.at_level(logging.DEBUG):
        restore = _restore_into(backup, target)
    assert restore.status == BackupExecution.Status.FAILED
    assert "no_such_role" in str(restore.error_message)
    assert password not in str(restore.error_message)
    assert password not in str(restore.error_stack)
    assert password not in caplog.text
    notification = Notification.objects.get(type="restore_failed", entity_id=restore.id)
    assert password not in notification.message


def test_the_command_aborts_unless_the_prompt_is_answered_y(backup_of, tmp_path, monkeypatch):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="aborted"):
        call_command("restore", str(backup.id), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not BackupExecution.objects.filter(kind=BackupExecution.Kind.RESTORE).exists()


def test_the_command_restores_after_the_prompt_is_answered_y(backup_of, tmp_path, monkeypatch):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    _sqlite_db(source.with_name("scratch.db"), 1).replace(source)
    prompts: list[str] = []

    def answer_yes(prompt: str) -> str:
        prompts.append(prompt)
        return "y"

    monkeypatch.setattr("builtins.input", answer_yes)
    call_command("restore", str(backup.id), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert len(prompts) == 1
    assert backup.datasource.name in prompts[0]
    assert _rows(source) == 50


def test_the_command_with_yes_does_not_ask_and_prints_the_execution(
    backup_of, tmp_path, monkeypatch, capsys
):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})

    def no_prompt(prompt: str) -> str:
        raise AssertionError("asked although --yes was given")

    monkeypatch.setattr("builtins.input", no_prompt)
    call_command("restore", str(backup.id), "--yes")
    restore = BackupExecution.objects.get(kind=BackupExecution.Kind.RESTORE)
    out = capsys.readouterr().out
    assert f"restore execution {restore.id} completed" in out
    assert restore.status == BackupExecution.Status.COMPLETED


def test_the_command_exits_non_zero_when_the_restore_fails(backup_of, tmp_path):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    (artifact_dir(backup) / "SHA256SUMS").write_text("0" * 64 + "  backup.db.zst\n")
    with pytest.raises(CommandError, match="failed"):
        call_command("restore", str(backup.id), "--yes", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_a_chunk_changed_after_verification_stops_the_restore_tool(
    chunked_pg_backup, datasource_of, scratch_pg_target, monkeypatch
):
    real_verify = artifact.verify_chunks
    chunk = chunked_pg_backup.chunks.order_by("chunk_number").last()
    path = artifact_dir(chunked_pg_backup) / Path(chunk.file_path).name

    def verify_then_tamper(*args, **kwargs) -> None:
        real_verify(*args, **kwargs)
        data = bytearray(path.read_bytes())
        data[-100] ^= 0x01
        path.write_bytes(bytes(data))

    monkeypatch.setattr(restore_module, "verify_chunks", verify_then_tamper)
    target = datasource_of("postgres", {**PG_CONNECTION, "database": scratch_pg_target})
    restore = _restore_into(chunked_pg_backup, target)
    assert restore.status == BackupExecution.Status.FAILED
    assert "changed after it was verified" in str(restore.error_message)


def test_a_sqlite_chunk_changed_after_verification_leaves_the_target_unchanged(
    backup_of, tmp_path, monkeypatch
):
    source = _sqlite_db(tmp_path / "app.db", 2000)
    backup = backup_of("sqlite", {"file_path": str(source)}, compression="none")
    real_verify = artifact.verify_chunks
    path = artifact_dir(backup) / "backup.db"

    def verify_then_tamper(*args, **kwargs) -> None:
        real_verify(*args, **kwargs)
        path.write_bytes(path.read_bytes()[:-1] + b"\x00")

    monkeypatch.setattr(restore_module, "verify_chunks", verify_then_tamper)
    target = _sqlite_db(tmp_path / "target.db", 3)
    before = target.read_bytes()
    execution = restore_execution(backup, target_path=str(target), options={}, confirm=True)
    assert not perform_restore(execution)
    execution.refresh_from_db()
    assert "changed after it was verified" in str(execution.error_message)
    assert target.read_bytes() == before


def test_progress_reports_the_verify_phase_then_the_restore_phase(backup_of, tmp_path, monkeypatch):
    source = _sqlite_db(tmp_path / "app.db", 2000)
    backup = backup_of("sqlite", {"file_path": str(source)})
    total = backup.compressed_size_bytes
    monkeypatch.setattr(progress_module, "PROGRESS_INTERVAL", 0.0)
    seen: list[dict[str, object]] = []
    execution = restore_execution(
        backup, target_path=str(tmp_path / "copy.db"), options={}, confirm=True
    )

    def record() -> None:
        seen.append(BackupExecution.objects.get(pk=execution.pk).progress)

    real_verify = artifact.verify_chunks

    def verify_and_record(*args, **kwargs) -> None:
        real_verify(*args, **kwargs)
        record()

    class Recording:
        def __init__(self, reader) -> None:
            self._reader = reader

        def read(self, size: int = -1, /) -> bytes:
            data: bytes = self._reader.read(size)
            if not data:
                record()
            return data

    monkeypatch.setattr(restore_module, "verify_chunks", verify_and_record)
    monkeypatch.setattr(
        restore_module,
        "open_decompressed",
        lambda raw, name: Recording(open_decompressed(raw, name)),
    )
    assert perform_restore(execution)
    assert seen[0] == {"phase": "verify", "bytes_total": total, "bytes_done": total}
    assert seen[1] == {"phase": "restore", "bytes_total": total, "bytes_done": total}


def test_the_command_restores_into_a_target_datasource_named_on_the_command_line(
    backup_of, datasource_of, tmp_path
):
    source = _sqlite_db(tmp_path / "app.db", 50)
    backup = backup_of("sqlite", {"file_path": str(source)})
    copy = tmp_path / "copy.db"
    datasource_of("sqlite", {"file_path": str(copy)}, name="copy-db")
    call_command(
        "restore",
        str(backup.id),
        "--target",
        "copy-db",
        "--yes",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    assert _rows(copy) == 50
    assert _rows(source) == 50


def test_a_restore_option_of_another_engine_is_refused_before_anything_is_created(
    backup_of, tmp_path
):
    backup = backup_of("sqlite", {"file_path": str(_sqlite_db(tmp_path / "app.db", 3))})
    before = BackupExecution.objects.count()

    with pytest.raises(RestoreRefused, match=r"SQLite restore: clean: Unknown field"):
        restore_execution(backup, target_path=str(tmp_path / "new.db"), options={"clean": True})

    assert BackupExecution.objects.count() == before


def test_the_api_answers_400_for_an_option_the_target_engine_does_not_take(
    api, backup_of, tmp_path
):
    backup = backup_of("sqlite", {"file_path": str(_sqlite_db(tmp_path / "app.db", 3))})

    answer = api.post(
        f"/api/executions/{backup.id}/restore",
        {"target_path": str(tmp_path / "new.db"), "options": {"create_database": True}},
        format="json",
    )

    assert answer.status_code == 400
    assert "create_database" in answer.json()["detail"]
    assert not BackupExecution.objects.filter(kind="restore").exists()
