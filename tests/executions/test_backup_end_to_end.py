"""A backup run end to end: real engines, real local storage, restored with docs/RESTORE.md."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from executions.models import BackupExecution
from notifications.models import Notification
from tests.support.databases import PG_CONNECTION, mysql_exec, pg_table_checksums
from tests.support.recipes import DECOMPRESS, run_recipe

pytestmark = pytest.mark.django_db


def _run(job) -> BackupExecution:
    call_command("backup", str(job.id), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return BackupExecution.objects.filter(job=job).latest("created_at")


def _artifact_dir(job, execution) -> Path:
    return Path(str(job.storage_location.config["path"])) / str(execution.backup_path)


@pytest.mark.parametrize("compression", ["zstd", "gzip", "lz4", "none"])
def test_a_postgres_backup_restores_with_the_documented_commands(
    compression, make_job, pg_database, scratch_pg_target
):
    job = make_job(
        "postgres",
        {**PG_CONNECTION, "database": pg_database},
        compression=compression,
        max_file_size_mb=1,
    )
    execution = _run(job)
    assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
    directory = _artifact_dir(job, execution)
    manifest = json.loads((directory / "manifest.json").read_text())
    chunks = list(execution.chunks.order_by("chunk_number"))
    assert len(chunks) >= 2, "the 1 MB limit should have split the artifact"
    for chunk in chunks:
        data = (directory / Path(chunk.file_path).name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == chunk.checksum
        assert len(data) == chunk.size_bytes
    whole = b"".join((directory / Path(c.file_path).name).read_bytes() for c in chunks)
    assert hashlib.sha256(whole).hexdigest() == manifest["sha256"] == execution.metadata["checksum"]
    assert execution.compressed_size_bytes == len(whole)
    assert manifest["engine"]["database_version"].startswith("PostgreSQL")

    run_recipe(
        "postgres",
        directory,
        DECOMPRESS=DECOMPRESS[compression],
        TARGET_DB=f"postgresql://postgres@127.0.0.1:5432/{scratch_pg_target}",
    )
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)


def test_a_successful_backup_records_its_fields_and_a_notification(make_job, pg_database):
    job = make_job(
        "postgres", {**PG_CONNECTION, "database": pg_database}, exclude_tables=["logs_*"]
    )
    execution = _run(job)
    assert execution.status == BackupExecution.Status.COMPLETED
    assert execution.size_bytes is not None
    assert execution.compressed_size_bytes is not None
    assert execution.size_bytes > execution.compressed_size_bytes > 0
    assert execution.duration_seconds is not None
    assert execution.finished_at is not None
    assert execution.backup_type == "full"
    assert 0 < execution.metadata["compression_ratio"] < 1
    assert execution.metadata["tables_backed_up"] == 2
    assert execution.progress["phase"] == "done"
    job.refresh_from_db()
    assert job.last_execution_at == execution.finished_at
    assert Notification.objects.filter(type="backup_success", entity_id=execution.id).exists()


def test_a_sqlite_backup_restores_with_the_documented_commands(make_job, tmp_path):
    source = tmp_path / "app.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(5000)])
    job = make_job("sqlite", {"file_path": str(source)}, compression="gzip")
    execution = _run(job)
    assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
    target = tmp_path / "restored.db"
    run_recipe(
        "sqlite", _artifact_dir(job, execution), DECOMPRESS="gzip -dc", TARGET_FILE=str(target)
    )
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*), max(v) FROM t").fetchone() == (5000, "row 999")


def test_a_files_backup_restores_with_the_documented_commands(make_job, tmp_path):
    source = tmp_path / "site"
    (source / "img").mkdir(parents=True)
    (source / "img" / "a.jpg").write_bytes(bytes(range(256)) * 100)
    (source / "index.html").write_text("<h1>hi</h1>")
    (source / "debug.log").write_text("noise")
    job = make_job(
        "files", {"source_path": str(source), "exclude_patterns": ["*.log"]}, compression="lz4"
    )
    execution = _run(job)
    assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
    assert execution.files_count == 2
    target = tmp_path / "restored"
    run_recipe("files", _artifact_dir(job, execution), DECOMPRESS="lz4 -dc", TARGET_DIR=str(target))
    assert (target / "img" / "a.jpg").read_bytes() == (source / "img" / "a.jpg").read_bytes()
    assert (target / "index.html").read_text() == "<h1>hi</h1>"
    assert not (target / "debug.log").exists()


def test_a_mysql_backup_restores_with_the_documented_commands(make_job, tmp_path):
    db, target = "dgtest_e2e_my_src", "dgtest_e2e_my_dst"

    mysql_exec(
        f"DROP DATABASE IF EXISTS {db}; DROP DATABASE IF EXISTS {target};"
        f"CREATE DATABASE {db}; CREATE DATABASE {target};"
        f"CREATE TABLE {db}.items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64));"
        f"INSERT INTO {db}.items (name) VALUES "
        + ",".join(f"('item {n}')" for n in range(3000))
        + ";"
    )
    try:
        job = make_job(
            "mysql",
            {"host": "127.0.0.1", "port": 3306, "database": db, "username": "root", "password": ""},
        )
        execution = _run(job)
        assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
        home = tmp_path / "home"
        home.mkdir()
        (home / ".my.cnf").write_text("[client]\nhost=127.0.0.1\nuser=root\n")
        run_recipe(
            "mysql",
            _artifact_dir(job, execution),
            DECOMPRESS="zstd -dc",
            TARGET_DB=target,
            HOME=str(home),
        )
        checksum = "SELECT COUNT(*), MD5(GROUP_CONCAT(name ORDER BY id)) FROM {}.items"
        assert mysql_exec(checksum.format(target)) == mysql_exec(checksum.format(db))
    finally:
        mysql_exec(f"DROP DATABASE IF EXISTS {db}; DROP DATABASE IF EXISTS {target};")


def _assert_failed_cleanly(job, execution, *words: str) -> None:
    assert execution.status == BackupExecution.Status.FAILED
    for word in words:
        assert word.lower() in execution.error_message.lower(), execution.error_message
    storage = Path(job.storage_location.config["path"])
    assert [p for p in storage.rglob("*") if p.is_file()] == []
    assert not execution.chunks.exists()
    assert Notification.objects.filter(
        type="backup_failed", severity="critical", entity_id=execution.id
    ).exists()


def test_a_closed_port_fails_the_run_with_a_clear_message_and_no_artifact(make_job):
    job = make_job("postgres", {**PG_CONNECTION, "port": 1, "database": "x"})
    with pytest.raises(CommandError):
        _run(job)
    execution = BackupExecution.objects.get(job=job)
    _assert_failed_cleanly(job, execution, "127.0.0.1")


def test_an_include_pattern_matching_no_table_fails_the_run(make_job, pg_database):
    job = make_job(
        "postgres", {**PG_CONNECTION, "database": pg_database}, include_tables=["no_such_table_*"]
    )
    with pytest.raises(CommandError):
        _run(job)
    _assert_failed_cleanly(job, BackupExecution.objects.get(job=job), "no_such_table")


def test_an_unreadable_source_path_fails_the_run(make_job, tmp_path):
    job = make_job("files", {"source_path": str(tmp_path / "missing")})
    with pytest.raises(CommandError):
        _run(job)
    _assert_failed_cleanly(job, BackupExecution.objects.get(job=job), "missing")


def test_a_full_storage_location_fails_the_run_and_keeps_nothing(make_job, pg_database):
    job = make_job("postgres", {**PG_CONNECTION, "database": pg_database}, compression="none")
    job.storage_location.config = {**job.storage_location.config, "max_size_gb": 0.0005}
    job.storage_location.save()
    with pytest.raises(CommandError):
        _run(job)
    _assert_failed_cleanly(job, BackupExecution.objects.get(job=job), "max_size_gb")


def test_a_read_only_storage_location_fails_the_run_with_a_clear_message(make_job, tmp_path):
    """A real read-only mount: the tests run as root, whom permission bits do not stop."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("some data")
    job = make_job("files", {"source_path": str(source)})
    storage = Path(job.storage_location.config["path"])
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(storage)],
        capture_output=True,
        check=False,
    )
    assert mounted.returncode == 0, mounted.stderr
    try:
        with pytest.raises(CommandError):
            _run(job)
        execution = BackupExecution.objects.get(job=job)
        _assert_failed_cleanly(job, execution, "read-only file system")
    finally:
        subprocess.run(["umount", str(storage)], check=True)


def test_no_secret_reaches_the_error_message(make_job):
    job = make_job(
        "mysql",
        {
            "host": "127.0.0.1",
            "port": 3306,
            "database": "mysql",
            "username": "dg_nobody",
            "password": "Hunter2-Secret",
        },
    )
    with pytest.raises(CommandError) as info:
        _run(job)
    execution = BackupExecution.objects.get(job=job)
    assert execution.status == BackupExecution.Status.FAILED
    for text in (execution.error_message, execution.error_stack, str(info.value)):
        assert "Hunter2-Secret" not in str(text)


def test_the_storage_is_told_the_expected_size_of_each_upload(make_job, tmp_path, monkeypatch):
    """Object stores size their multipart parts by it: a first run has no estimate, later
    runs twice the last stored size, and a chunked run its chunk limit."""
    from storage.adapters.local import LocalAdapter

    hints: list[int | None] = []
    original = LocalAdapter.open_write

    def recording(self, path, *, size_hint=None):
        if "/backup." in path:
            hints.append(size_hint)
        return original(self, path, size_hint=size_hint)

    monkeypatch.setattr(LocalAdapter, "open_write", recording)
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.bin").write_bytes(bytes(range(256)) * 4096)
    job = make_job("files", {"source_path": str(source)})
    first = _run(job)
    second = _run(job)
    job.backup_options = {**job.backup_options, "max_file_size_mb": 1}
    job.save()
    _run(job)
    assert first.status == second.status == BackupExecution.Status.COMPLETED
    assert first.compressed_size_bytes is not None
    assert hints == [None, 2 * first.compressed_size_bytes, 1024 * 1024]
