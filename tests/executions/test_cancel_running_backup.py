"""Cancelling a running backup stops its pg_dump and leaves nothing in storage."""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from executions import progress as progress_module
from executions.backup import perform_backup
from executions.models import BackupExecution
from executions.services import create_backup_execution
from tests.support.databases import pg_exec

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_database():
    """About 40 MB of random text: a level-19 zstd backup of it takes several seconds."""
    name = f"dgtest_cancel_{secrets.token_hex(4)}"
    pg_exec(f"CREATE DATABASE {name}")
    pg_exec(
        "CREATE TABLE t AS SELECT g, md5(random()::text) || md5(random()::text) AS v "
        "FROM generate_series(1, 600000) g",
        name,
    )
    yield name
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _dump_sessions(dbname: str) -> int:
    rows = pg_exec(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{dbname}' "
        "AND application_name = 'dataguardian' AND backend_type = 'client backend'"
    )
    return int(rows[0][0])


def test_cancelling_a_running_backup_stops_the_tool_and_keeps_nothing(
    make_job, slow_database, tmp_path, monkeypatch
):
    monkeypatch.setattr(progress_module, "PROGRESS_INTERVAL", 0.2)
    job = make_job(
        "postgres",
        {
            "host": "127.0.0.1",
            "port": 5432,
            "username": "postgres",
            "password": "",
            "database": slow_database,
        },
        compression_level=19,
    )
    execution = create_backup_execution(job)
    execution = BackupExecution.objects.select_related("job", "datasource", "storage_location").get(
        pk=execution.pk
    )
    execution.claim(worker="test")
    seen_running: list[int] = []

    def cancel_once_it_streams() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            progress = BackupExecution.objects.get(pk=execution.pk).progress
            if progress.get("bytes_in"):
                seen_running.append(_dump_sessions(slow_database))
                BackupExecution.objects.get(pk=execution.pk).cancel()
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_once_it_streams)
    canceller.start()
    ok = perform_backup(execution)
    canceller.join()

    assert seen_running == [1], "pg_dump was connected while the backup streamed"
    assert ok is False
    execution.refresh_from_db()
    assert execution.status == BackupExecution.Status.CANCELLED
    assert _dump_sessions(slow_database) == 0
    storage = tmp_path / "storage"
    assert [p for p in storage.rglob("*") if p.is_file()] == []
